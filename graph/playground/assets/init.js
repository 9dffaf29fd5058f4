// Starts GraphiQL against this server's /graphql. The query, variables and
// headers may be given in the page's URL (?query=…&variables=…&headers=…),
// so that a portal link or a test can open a ready request. A unit token or
// a manager key goes in the Token field above the editor (sent as the
// Authorization header unless the Headers tab sets one); a login mutation
// run here fills the field in with its token.
// Subscriptions run over a WebSocket to the same /graphql (graphql-ws,
// bundled with GraphiQL), the headers going in its connection_init.
(function () {
  var params = new URLSearchParams(window.location.search);
  var http = new URL('/graphql', window.location.href);
  var ws = new URL(http.toString());
  ws.protocol = http.protocol === 'https:' ? 'wss:' : 'ws:';
  // Plain responses (no incremental delivery), so that a login's can be read.
  var send = GraphiQL.createFetcher({ url: http.toString(), subscriptionUrl: ws.toString(), enableIncrementalDelivery: false });
  var token = document.getElementById('token');
  var fetcher = function (params, opts) {
    var headers = Object.assign({}, opts && opts.headers);
    if (token.value.trim() && !headers.Authorization) headers.Authorization = token.value.trim();
    var out = send(params, Object.assign({}, opts, { headers: headers }));
    if (out && typeof out.then === 'function') {
      out.then(function (r) {
        if (r && r.data && r.data.login && r.data.login.token) token.value = r.data.login.token;
      }, function () {});
    }
    return out;
  };
  var props = {
    fetcher: fetcher,
    defaultEditorToolsVisibility: true,
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: false,
    defaultHeaders: '{}',
    defaultQuery: [
      '# The Resident Portal GraphQL API.',
      '#',
      '# 1. Log in with a unit\'s portal secret, the auth= of its',
      '#    portal link (`portalctl unit show --unit U`):',
      '#    mutation { login(propertyId: "…", hashedSecret: "…")',
      '#      { token } }',
      '#    Its token fills the Token field above. Or paste a',
      '#    token or a manager key there.',
      '# 2. Run the query below with {"p": "<property id>"}',
      '#    in the Variables tab. Subscriptions run here too.',
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
