// Add and remove option rows of the decision form without reloading the page.
// Rows are plain repeated inputs (option_id, option_label, ...), so removing one leaves no gap to fix.
(function () {
  "use strict";

  function renumber(list) {
    list.querySelectorAll(".option-row").forEach(function (row, index) {
      var number = row.querySelector(".option-number");
      if (number) {
        number.textContent = String(index + 1);
      }
    });
  }

  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-option]");
    if (add) {
      var list = document.getElementById(add.getAttribute("data-add-option"));
      var template = document.getElementById(list.getAttribute("data-template"));
      list.appendChild(template.content.cloneNode(true));
      renumber(list);
      var rows = list.querySelectorAll(".option-row");
      rows[rows.length - 1].querySelector("input[name=option_label]").focus();
      return;
    }
    var remove = event.target.closest("[data-remove-option]");
    if (remove) {
      var row = remove.closest(".option-row");
      var parent = row.parentElement;
      row.remove();
      renumber(parent);
    }
  });
})();
