// attune ops: the run history page. The page works without this script (a plain GET form);
// here, changing a status, workflow or date filter applies it at once.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("runs-filters");
  if (!form) return;
  for (const field of form.querySelectorAll('input[type="checkbox"], select')) {
    field.addEventListener("change", () => form.requestSubmit());
  }
  // Empty fields stay out of the URL, so shared links are short and readable.
  form.addEventListener("formdata", (e) => {
    for (const [key, value] of [...e.formData.entries()]) {
      if (value === "" || (key === "since" && value === "all")) e.formData.delete(key);
    }
  });
});
