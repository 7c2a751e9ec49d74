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

  // GraphiQL's editors (CodeMirror) type into a hidden textarea that has no
  // label, and scroll in a region a keyboard cannot reach: name each editor
  // for screen readers, and let Tab reach its scrolling region, whenever
  // GraphiQL draws one (a new tab, the headers editor shown).
  function editorName(input) {
    if (input.closest(".graphiql-query-editor")) {
      return "GraphQL query";
    }
    if (input.closest(".result-window")) {
      return "Result";
    }
    var tool = input.closest(".graphiql-editor-tool");
    if (tool) {
      var editors = tool.querySelectorAll(".graphiql-editor");
      return input.closest(".graphiql-editor") === editors[1]
        ? "Request headers (JSON)" : "Variables (JSON)";
    }
    return "Editor";
  }
  function makeEditorsAccessible() {
    editor.querySelectorAll(".CodeMirror textarea:not([aria-label])").forEach(function (input) {
      input.setAttribute("aria-label", editorName(input));
    });
    editor.querySelectorAll(".CodeMirror-scroll[tabindex='-1']").forEach(function (region) {
      region.setAttribute("tabindex", "0");
      region.setAttribute("role", "region");
      var input = region.parentElement.querySelector("textarea");
      region.setAttribute("aria-label", (input ? editorName(input) : "Editor") + ", scrolling area");
    });
  }
  var pending = false;
  new window.MutationObserver(function () {
    if (!pending) {
      pending = true;
      window.requestAnimationFrame(function () {
        pending = false;
        makeEditorsAccessible();
      });
    }
  }).observe(editor, { childList: true, subtree: true });

  window.ReactDOM.render(window.React.createElement(GraphiQLWithExplorer), editor);
})(document, window);
