// Draws the page's neighbourhood graph with vis-network (served from the
// package), stops physics once the layout settles, keeps labels at a size a
// person reads whatever the zoom, and highlights the path of a caption when it
// is clicked, bringing that path into view. Node text is drawn on a canvas and
// tooltips are plain strings: nothing from the knowledge base is parsed as HTML.
(function () {
  "use strict";
  var box = document.getElementById("graph");
  if (!box || typeof vis === "undefined") { return; }
  var data = JSON.parse(document.getElementById(box.dataset.graph).textContent);
  var LABEL_PX = 14;       // the smallest label size on screen, in CSS pixels
  var MAX_FIT_SCALE = 1.3; // a highlighted path is framed, not blown up
  var nodes = new vis.DataSet(data.nodes);
  var edges = new vis.DataSet(data.edges);
  var original = {};
  data.nodes.forEach(function (n) { original[n.id] = n.color; });
  var network = new vis.Network(box, {nodes: nodes, edges: edges}, {
    physics: {stabilization: {enabled: true, iterations: 300}, barnesHut: {springLength: 140}},
    interaction: {hover: true},
    nodes: {font: {size: LABEL_PX, strokeWidth: 4, strokeColor: "#ffffff"}},
    edges: {smooth: false}
  });

  var fontSize = LABEL_PX;
  function readableLabels() {
    // labels are drawn in canvas units: grow them as the view zooms out
    var scale = network.getScale() || 1;
    var size = Math.min(48, Math.max(LABEL_PX, Math.round(LABEL_PX / scale)));
    if (size !== fontSize) {
      fontSize = size;
      network.setOptions({nodes: {font: {size: size}}});
    }
    box.setAttribute("data-label-px", String(Math.round(fontSize * scale * 10) / 10));
  }
  var settled = false;
  function done() {
    if (settled) { return; }
    settled = true;
    network.setOptions({physics: false});
    network.fit({animation: false});
    readableLabels();
    document.body.setAttribute("data-drawn-nodes", String(nodes.length));
    document.body.setAttribute("data-drawn-edges", String(edges.length));
  }
  network.once("stabilizationIterationsDone", done);
  setTimeout(done, 8000);  // never spin forever
  if (data.nodes.length === 0) { done(); }
  network.on("zoom", readableLabels);
  network.on("doubleClick", function (p) {
    if (p.nodes.length) {
      var n = nodes.get(p.nodes[0]);
      if (n && n.href) { window.location.href = n.href; }
    }
  });

  function recordPath(ids) {
    // where the path's nodes are on screen, for the page's own tests
    var rect = box.getBoundingClientRect();
    var points = ids.map(function (id) {
      var p = network.canvasToDOM(network.getPosition(id));
      return {id: id, x: Math.round(rect.left + p.x), y: Math.round(rect.top + p.y)};
    });
    box.setAttribute("data-path-points", JSON.stringify(points));
  }
  function frame(ids) {
    if (!ids.length) { return; }
    network.fit({nodes: ids, animation: false});
    if (network.getScale() > MAX_FIT_SCALE) {
      network.moveTo({scale: MAX_FIT_SCALE, animation: false});
    }
    readableLabels();
    var rect = box.getBoundingClientRect();
    if (rect.top < 0 || rect.bottom > window.innerHeight) {
      box.scrollIntoView({block: "nearest"});
    }
    recordPath(ids);
  }
  function highlight(ids) {
    var on = {};
    ids.forEach(function (id) { on[id] = true; });
    var shown = ids.filter(function (id) { return nodes.get(id) !== null; });
    nodes.update(data.nodes.map(function (n) {
      return {id: n.id, color: on[n.id] ? "#d62728" : (ids.length ? "#dddddd" : original[n.id]),
              borderWidth: on[n.id] ? 4 : 1};
    }));
    box.setAttribute("data-highlighted", String(shown.length));
    if (shown.length) {
      network.selectNodes(shown);
      frame(shown);
    }
  }
  Array.prototype.forEach.call(document.querySelectorAll(".caption[data-nodes]"), function (li) {
    function pick() {
      Array.prototype.forEach.call(document.querySelectorAll(".caption.active"), function (o) {
        o.classList.remove("active");
      });
      li.classList.add("active");
      highlight(JSON.parse(li.dataset.nodes));
    }
    li.addEventListener("click", pick);
    li.addEventListener("keydown", function (e) { if (e.key === "Enter") { pick(); } });
  });
})();
