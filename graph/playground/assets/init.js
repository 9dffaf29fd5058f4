// Starts GraphiQL against this server's /graphql. The query, variables and
// headers may be given in the page's URL (?query=…&variables=…&headers=…),
// so that a portal link or a test can open a ready request. A unit token or
// a manager key goes in the Headers tab: {"Authorization": "<token>"}.
(function () {
  var params = new URLSearchParams(window.location.search);
  var fetcher = GraphiQL.createFetcher({ url: new URL('/graphql', window.location.href).toString() });
  var props = {
    fetcher: fetcher,
    defaultEditorToolsVisibility: true,
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: false,
    defaultHeaders: '{\n  "Authorization": ""\n}',
  };
  if (params.get('query')) props.defaultQuery = params.get('query');
  if (params.get('variables')) props.variables = params.get('variables');
  if (params.get('headers')) props.headers = params.get('headers');
  ReactDOM.createRoot(document.getElementById('graphiql')).render(React.createElement(GraphiQL, props));
})();
