// Starts GraphiQL (with the query explorer) on the page's own URL. The query,
// variables and operation live in the URL fragment, so a link reproduces them;
// the headers editor is where an API key goes:
//   {"Authorization": "Bearer lk_..."}
// Adapted from graphene-django's graphiql.js (MIT), without the websocket
// client (this API has no subscriptions) and the fetch polyfill.
(function (document, window) {
  "use strict";
  var editor = document.getElementById("editor");
  function flag(name) {
    return editor.dataset[name] === "true";
  }

  var parameters = {};
  window.location.hash.slice(1).split("&").forEach(function (entry) {
    var eq = entry.indexOf("=");
    if (eq >= 0) {
      parameters[decodeURIComponent(entry.slice(0, eq))] = decodeURIComponent(entry.slice(eq + 1));
    }
  });
  function updateURL() {
    var hash = Object.keys(parameters).map(function (key) {
      return encodeURIComponent(key) + "=" + encodeURIComponent(parameters[key]);
    }).join("&");
    window.history.replaceState(null, "", "#" + hash);
  }

  var headers = {};
  var csrf = document.querySelector("[name=csrfmiddlewaretoken]");
  if (csrf && csrf.value) {
    headers["X-CSRFToken"] = csrf.value;
  }
  var fetcher = window.GraphiQL.createFetcher({
    url: window.location.pathname,
    headers: headers,
  });

  function GraphiQLWithExplorer() {
    var state = window.React.useState(parameters.query);
    var query = state[0];
    var setQuery = state[1];
    function onEditQuery(newQuery) {
      setQuery(newQuery);
      parameters.query = newQuery;
      updateURL();
    }
    var explorer = window.GraphiQLPluginExplorer.useExplorerPlugin({
      query: query,
      onEdit: onEditQuery,
    });
    return window.React.createElement(window.GraphiQL, {
      fetcher: fetcher,
      plugins: [explorer],
      query: query,
      variables: parameters.variables,
      operationName: parameters.operationName,
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: flag("headerEditorEnabled"),
      shouldPersistHeaders: flag("shouldPersistHeaders"),
      inputValueDeprecation: flag("inputValueDeprecation"),
      onEditQuery: onEditQuery,
      onEditVariables: function (variables) {
        parameters.variables = variables;
        updateURL();
      },
      onEditOperationName: function (operationName) {
        parameters.operationName = operationName;
        updateURL();
      },
    });
  }

  window.ReactDOM.render(window.React.createElement(GraphiQLWithExplorer), editor);
})(document, window);
