// The moment form shows only the fields of the chosen kind of attachment (images, video or link).
// Hidden fields keep their values; the server checks only the chosen kind's.
(function () {
  "use strict";
  var form = document.querySelector('[data-testid="moment-create"]');
  if (!form) return;
  var groups = { images: ["images"], video: ["video"], link: ["link_title", "link_url", "link_image"] };
  function show() {
    var checked = form.querySelector('input[name="kind"]:checked');
    var kind = checked ? checked.value : "none";
    Object.keys(groups).forEach(function (key) {
      groups[key].forEach(function (name) {
        var row = form.querySelector('[data-field="' + name + '"]');
        if (row) row.hidden = key !== kind;
      });
    });
  }
  form.addEventListener("change", function (event) {
    if (event.target.name === "kind") show();
  });
  show();
})();
