// When the sign-in ends while a page is open (it expired, the person signed out in
// another tab, an admin disabled them), the server answers the page's callbacks with 401
// and the page would silently stop updating. This script notices those answers and
// shows a banner with a link to the sign-in page that comes back to this page.
//
// It only watches: every answer, 401 included, goes on to Dash unchanged, so the
// buttons (Stop among them) behave exactly as without it. It is a file under /assets/,
// written with DOM calls only, as the Content-Security-Policy requires (no inline
// script, no HTML strings). The server checks the `next` address again (local paths
// only).
(function () {
    "use strict";
    var BANNER_ID = "session-expired";
    var WATCHED = ["/_dash-update-component", "/_dash-layout", "/_dash-dependencies"];

    function watched(url) {
        var path;
        try {
            path = new URL(url, window.location.href).pathname;
        } catch (error) {
            return false;
        }
        return WATCHED.indexOf(path) >= 0;
    }

    function loginHref() {
        var here = window.location.pathname + window.location.search;
        return "/login?next=" + encodeURIComponent(here);
    }

    function showBanner() {
        var banner = document.getElementById(BANNER_ID);
        if (banner) {
            banner.querySelector("a").setAttribute("href", loginHref());
            return;
        }
        banner = document.createElement("div");
        banner.id = BANNER_ID;
        banner.className = "alert alert-warning shadow session-expired-banner";
        banner.setAttribute("role", "alert");
        banner.appendChild(document.createTextNode("Your session has expired. "));
        var link = document.createElement("a");
        link.className = "alert-link";
        link.setAttribute("href", loginHref());
        link.textContent = "Sign in again";
        banner.appendChild(link);
        document.body.appendChild(banner);
    }

    function urlOf(input) {
        if (typeof input === "string") {
            return input;
        }
        return input && input.url ? input.url : String(input);
    }

    var originalFetch = window.fetch;
    if (typeof originalFetch !== "function") {
        return;
    }
    window.fetch = function (input, init) {
        var url = urlOf(input);
        return originalFetch.apply(this, arguments).then(function (response) {
            if (response.status === 401 && watched(url)) {
                showBanner();
            }
            return response;
        });
    };
})();
