// Starts GraphiQL against this server's /graphql. The query, variables and
// headers may be given in the page's URL (?query=…&variables=…&headers=…),
// so that a portal link or a test can open a ready request. A unit token or
// a manager key goes in the Headers tab: {"Authorization": "<token>"}.
// Subscriptions run over a WebSocket to the same /graphql (graphql-ws,
// bundled with GraphiQL), the headers going in its connection_init.
(function () {
  var params = new URLSearchParams(window.location.search);
  var http = new URL('/graphql', window.location.href);
  var ws = new URL(http.toString());
  ws.protocol = http.protocol === 'https:' ? 'wss:' : 'ws:';
  var fetcher = GraphiQL.createFetcher({ url: http.toString(), subscriptionUrl: ws.toString() });
  var props = {
    fetcher: fetcher,
    defaultEditorToolsVisibility: true,
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: false,
    defaultHeaders: '{\n  "Authorization": ""\n}',
    defaultQuery: [
      '# The Resident Portal GraphQL API.',
      '#',
      '# 1. Log in with a unit\'s portal secret (the auth= of its portal link;',
      '#    `make run` prints them, `portalctl unit show --unit U` shows one):',
      '#      mutation { login(propertyId: "…", hashedSecret: "…") { token expiresAt } }',
      '# 2. Put the token in the Headers tab: {"Authorization": "<token>"}',
      '#    (a manager key from `portalctl manager-key create` works the same way).',
      '# 3. Run the query below with {"p": "<property id>"} in the Variables tab.',
      '#    Subscriptions (unitUpdated, changeRequestUpdated) run here too.',
      '',
      'query MyUnit($p: ID!) {',
      '  unit(propertyId: $p) {',
      '    number',
      '    secret',
      '    users { edges { node { userName type devices { macAddress displayName } } } }',
      '    changeRequests(first: 5) { edges { node { kind status createdAt } } }',
      '  }',
      '}',
      '',
    ].join('\n'),
  };
  // A query in the URL wins over the tabs GraphiQL kept from earlier visits.
  if (params.get('query')) props.defaultQuery = props.query = params.get('query');
  if (params.get('variables')) props.variables = params.get('variables');
  if (params.get('headers')) props.headers = params.get('headers');
  ReactDOM.createRoot(document.getElementById('graphiql')).render(React.createElement(GraphiQL, props));
})();
