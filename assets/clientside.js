// Browser-side callbacks shared by the pages (used through dash.ClientsideFunction).
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    bem: {
        // A graph's relayout events that concern its x axis (zoom, pan, autorange), and
        // nothing else. Other events (the resize when content appears below the graph, a
        // legend click) would re-trigger the server callback that reads the range while a
        // zoom's request is still in flight, and Dash keeps only the latest answer: the
        // zoom would be lost.
        xAxisEvents: function (relayout) {
            if (relayout && ("xaxis.autorange" in relayout || "xaxis.range[0]" in relayout
                             || "xaxis.range" in relayout)) {
                return relayout;
            }
            return window.dash_clientside.no_update;
        },
        // A page's view, as a query string, goes into the address without a reload, so
        // the view can be bookmarked.
        showQuery: function (query) {
            const target = window.location.pathname + (query || "");
            if (target !== window.location.pathname + window.location.search) {
                window.history.replaceState(null, "", target);
            }
            return query;
        },
    },
});
