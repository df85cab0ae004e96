// Draws the page's neighbourhood graph with vis-network (served from the
// package), stops physics once the layout settles, and highlights the path of
// a caption when it is clicked. Node text is drawn on a canvas and tooltips are
// plain strings: nothing from the knowledge base is ever parsed as HTML.
(function () {
  "use strict";
  var box = document.getElementById("graph");
  if (!box || typeof vis === "undefined") { return; }
  var data = JSON.parse(document.getElementById(box.dataset.graph).textContent);
  var nodes = new vis.DataSet(data.nodes);
  var edges = new vis.DataSet(data.edges);
  var original = {};
  data.nodes.forEach(function (n) { original[n.id] = n.color; });
  var network = new vis.Network(box, {nodes: nodes, edges: edges}, {
    physics: {stabilization: {enabled: true, iterations: 300}, barnesHut: {springLength: 110}},
    interaction: {hover: true},
    nodes: {font: {size: 13}},
    edges: {smooth: false}
  });
  var settled = false;
  function done() {
    if (settled) { return; }
    settled = true;
    network.setOptions({physics: false});
    document.body.setAttribute("data-drawn-nodes", String(nodes.length));
    document.body.setAttribute("data-drawn-edges", String(edges.length));
  }
  network.once("stabilizationIterationsDone", done);
  setTimeout(done, 8000);  // never spin forever
  if (data.nodes.length === 0) { done(); }
  network.on("doubleClick", function (p) {
    if (p.nodes.length) {
      var n = nodes.get(p.nodes[0]);
      if (n && n.href) { window.location.href = n.href; }
    }
  });

  function highlight(ids) {
    var on = {};
    ids.forEach(function (id) { on[id] = true; });
    var hit = 0;
    nodes.update(data.nodes.map(function (n) {
      if (on[n.id]) { hit += 1; }
      return {id: n.id, color: on[n.id] ? "#d62728" : (ids.length ? "#dddddd" : original[n.id]),
              borderWidth: on[n.id] ? 4 : 1};
    }));
    box.setAttribute("data-highlighted", String(hit));
    if (hit) { network.selectNodes(ids.filter(function (id) { return on[id] && nodes.get(id); })); }
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
