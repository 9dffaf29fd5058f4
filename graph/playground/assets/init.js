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
  };
  // A query in the URL wins over the tabs GraphiQL kept from earlier visits.
  if (params.get('query')) props.defaultQuery = props.query = params.get('query');
  if (params.get('variables')) props.variables = params.get('variables');
  if (params.get('headers')) props.headers = params.get('headers');
  ReactDOM.createRoot(document.getElementById('graphiql')).render(React.createElement(GraphiQL, props));
})();
