// The import page's upload: the chosen file goes to the server by a plain POST with a
// progress bar, not through a Dash callback (files reach a gigabyte; a callback would
// carry them as base64 in memory). The server answers a token, which goes into the
// page's store, and the preview callback takes it from there. Dash has no file input that
// leaves the file alone, so this script puts one in each element with `data-upload-url`;
// that element names the route, the input's id and the ids of the store, the progress
// bar and the message in data attributes, so every id is written once, in Python.
(function () {
    function setProps(id, props) {
        window.dash_clientside.set_props(id, props);
    }

    function extensionOf(name) {
        const dot = name.lastIndexOf(".");
        return dot < 0 ? "" : name.slice(dot).toLowerCase();
    }

    function megabytes(bytes) {
        return (bytes / 1e6).toFixed(1) + " MB";
    }

    function upload(holder, file) {
        const data = holder.dataset;
        const accepted = (data.accept || "").split(",");
        setProps(data.storeId, {data: null});
        if (accepted.indexOf(extensionOf(file.name)) < 0) {
            setProps(data.progressId, {style: {display: "none"}});
            setProps(data.messageId, {
                children: file.name + ": this kind of file cannot be imported; accepted: "
                    + accepted.join(" "),
                className: "small mt-1 text-danger",
            });
            return;
        }
        const body = new FormData();
        body.append("file", file, file.name);
        const request = new XMLHttpRequest();
        request.open("POST", data.uploadUrl);
        request.upload.onprogress = function (event) {
            if (!event.lengthComputable) {
                return;
            }
            const percent = Math.round(100 * event.loaded / event.total);
            setProps(data.progressId, {value: percent, label: percent + " %"});
        };
        request.onload = function () {
            let answer = {};
            try {
                answer = JSON.parse(request.responseText);
            } catch (error) {
                answer = {error: "The server answered " + request.status + "."};
            }
            if (request.status === 200 && answer.token) {
                setProps(data.progressId, {value: 100, label: "100 %", color: "success"});
                setProps(data.messageId, {
                    children: "Uploaded " + answer.filename + " (" + megabytes(answer.size) + ").",
                    className: "small mt-1 text-success",
                });
                setProps(data.storeId, {data: answer});
            } else {
                setProps(data.progressId, {color: "danger"});
                setProps(data.messageId, {
                    children: answer.error || ("The upload failed (" + request.status + ")."),
                    className: "small mt-1 text-danger",
                });
            }
        };
        request.onerror = function () {
            setProps(data.progressId, {color: "danger"});
            setProps(data.messageId, {
                children: "The upload was interrupted (network or server); choose the file again.",
                className: "small mt-1 text-danger",
            });
        };
        setProps(data.progressId, {value: 0, label: "", color: "primary", style: {}});
        setProps(data.messageId, {
            children: "Uploading " + file.name + " (" + megabytes(file.size) + ")…",
            className: "small mt-1",
        });
        request.send(body);
    }

    function addInputs() {
        document.querySelectorAll("[data-upload-url]").forEach(function (holder) {
            if (holder.querySelector("input[type=file]")) {
                return;
            }
            const input = document.createElement("input");
            input.type = "file";
            input.id = holder.dataset.inputId;
            input.accept = holder.dataset.accept;
            input.className = "form-control";
            holder.appendChild(input);
        });
    }

    new MutationObserver(addInputs).observe(document.documentElement, {
        childList: true,
        subtree: true,
    });

    document.addEventListener("change", function (event) {
        const input = event.target;
        const holder = input && input.closest && input.closest("[data-upload-url]");
        if (holder && input.files && input.files.length) {
            upload(holder, input.files[0]);
        }
    });
})();
