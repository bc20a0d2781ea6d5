// Live progress of a running campaign: poll its state once a second, reload when it ends.
(function () {
  var box = document.getElementById("progress");
  if (!box || box.dataset.status !== "running") return;
  var bar = document.getElementById("bar"), counted = document.getElementById("counted");
  function poll() {
    fetch("/_desk/c/" + box.dataset.campaign + "/progress.json", { cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (state) {
        bar.max = Math.max(state.total, 1);
        bar.value = state.done;
        counted.textContent = state.done + " of " + (state.total || "?") + " done";
        var prefect = document.getElementById("prefect");
        if (prefect && state.prefect) { prefect.href = state.prefect; prefect.hidden = false; }
        if (state.status === "running") setTimeout(poll, 1000); else location.reload();
      })
      .catch(function () { setTimeout(poll, 2000); });
  }
  poll();
})();
