// A job's page, live: the server sends the parts that changed (rendered there, as on the
// page itself) as server-sent events; this script only puts them in place. Without it the
// page shows the state it was loaded with.
"use strict";

(function () {
  const live = document.getElementById("job-live");
  if (!live || !window.EventSource) return;
  const source = new EventSource(live.dataset.events);

  function apply(message) {
    const data = JSON.parse(message.data);
    for (const [id, html] of Object.entries(data.fragments || {})) {
      const place = document.getElementById(id);
      if (place) place.innerHTML = html; // server-rendered, escaped there
    }
    const status = document.getElementById("job-status");
    if (status && data.status) status.textContent = data.status;
    return data;
  }

  live.textContent = "Live: the page updates as rounds are recorded.";
  source.addEventListener("update", function (message) {
    const data = apply(message);
    live.textContent = "Live: updated at " + new Date().toLocaleTimeString() +
      " (round " + data.round + " of " + data.rounds + ").";
  });
  source.addEventListener("problem", function (message) {
    live.textContent = "Live: " + JSON.parse(message.data).message;
  });
  source.addEventListener("end", function (message) {
    apply(message);
    source.close(); // the job has ended: nothing more will change
    live.textContent = "The job has ended; this is its final state.";
  });
  source.onerror = function () {
    live.textContent = "Live: reconnecting…"; // EventSource retries by itself
  };
})();
