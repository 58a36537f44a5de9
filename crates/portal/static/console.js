// The portal's one script, and nothing depends on it. Print buttons print (no inline handler:
// the pages' Content-Security-Policy allows scripts from the server only).
(function () {
  var buttons = document.querySelectorAll("[data-print]");
  for (var i = 0; i < buttons.length; i++) {
    buttons[i].addEventListener("click", function () { window.print(); });
  }
})();

// Upload a batch file with a progress bar; without this script the form posts as usual.
(function () {
  var form = document.getElementById("upload");
  var bar = document.getElementById("upload-progress");
  if (!form || !bar || !window.XMLHttpRequest || !window.FormData) return;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    bar.hidden = false;
    bar.value = 0;
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) bar.value = Math.round((e.loaded / e.total) * 100);
    });
    xhr.addEventListener("load", function () {
      bar.value = 100;
      window.location.assign(xhr.responseURL || "/account");
    });
    xhr.addEventListener("error", function () {
      bar.hidden = true;
      window.location.assign("/account");
    });
    xhr.send(new FormData(form));
  });
})();
