// 分销宝 console: small progressive enhancements. Every page works without this file except
// image uploads (which need a script to send the file before the form is saved).
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text) e.textContent = text;
    return e;
  }

  // Image uploads: <div class="upload" data-name="logo" data-max="1">. Each chosen file is sent to
  // /console/uploads; the answer's URL becomes a hidden input named data-name, with a thumbnail.
  function thumb(box, name, url) {
    var t = el("div", { "class": "thumb" });
    var img = el("img", { src: url, alt: "" });
    var rm = el("button", { type: "button", title: "移除", "aria-label": "移除图片" }, "×");
    var input = el("input", { type: "hidden", name: name, value: url });
    rm.addEventListener("click", function () { t.remove(); refresh(box); });
    t.appendChild(img); t.appendChild(rm); t.appendChild(input);
    box.insertBefore(t, box.querySelector(".upload-add"));
  }
  function refresh(box) {
    var max = parseInt(box.dataset.max || "1", 10);
    var add = box.querySelector(".upload-add");
    if (add) add.style.display = box.querySelectorAll(".thumb").length >= max ? "none" : "";
  }
  function showError(box, msg) {
    var field = box.closest(".field");
    var err = field.querySelector(".field-error.js");
    if (!msg) { if (err) err.remove(); field.classList.remove("has-error"); return; }
    if (!err) { err = el("div", { "class": "field-error js" }); field.appendChild(err); }
    err.textContent = msg;
    field.classList.add("has-error");
  }
  document.querySelectorAll(".upload").forEach(function (box) {
    refresh(box);
    box.querySelectorAll(".thumb button").forEach(function (b) {
      b.addEventListener("click", function () { b.closest(".thumb").remove(); refresh(box); });
    });
    var file = box.querySelector("input[type=file]");
    if (!file) return;
    var max = parseInt(box.dataset.max || "1", 10);
    // send posts one file (or one pasted address, which the server fetches once and stores
    // like an upload) and adds the stored copy's thumbnail.
    function send(fd, done) {
      box.classList.add("busy");
      fetch("/console/uploads", { method: "POST", body: fd, headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" })
        .then(function (r) {
          if (r.status === 413) return { ok: false, j: { error: "图片不能超过 2 MB，请压缩后再上传" } };
          if (r.status === 403) return { ok: false, j: { error: "页面已过期，请刷新页面后重试" } };
          return r.json().then(function (j) { return { ok: r.ok, j: j }; });
        })
        .then(function (res) {
          if (res.ok && res.j.url) { thumb(box, box.dataset.name, res.j.url); refresh(box); }
          else showError(box, (res.j && res.j.error) || "上传失败，请重试");
          box.classList.remove("busy");
          done();
        })
        .catch(function () { showError(box, "上传失败：网络错误，请重试"); box.classList.remove("busy"); });
    }
    file.addEventListener("change", function () {
      var files = Array.prototype.slice.call(file.files);
      showError(box, "");
      (function next() {
        var f = files.shift();
        if (!f || box.querySelectorAll(".thumb").length >= max) { file.value = ""; return; }
        var fd = new FormData();
        fd.append("file", f);
        send(fd, next);
      })();
    });
    var paste = el("div", { "class": "upload-url" });
    var addr = el("input", { type: "url", placeholder: "或粘贴图片网址 https://…", "aria-label": "图片网址" });
    var get = el("button", { type: "button", "class": "btn btn-sm" }, "使用网址");
    paste.appendChild(addr); paste.appendChild(get);
    box.parentNode.insertBefore(paste, box.nextSibling);
    function fetchAddr(e) {
      if (e) e.preventDefault();
      var v = addr.value.trim();
      showError(box, "");
      if (!/^https?:\/\/\S+$/i.test(v)) { showError(box, "请粘贴以 http:// 或 https:// 开头的图片网址"); return; }
      if (box.querySelectorAll(".thumb").length >= max) { showError(box, "图片已满，请先移除一张"); return; }
      var fd = new FormData();
      fd.append("url", v);
      send(fd, function () { if (!box.closest(".field").classList.contains("has-error")) addr.value = ""; });
    }
    get.addEventListener("click", fetchAddr);
    addr.addEventListener("keydown", function (e) { if (e.key === "Enter") fetchAddr(e); });
  });

  // Region picker: a search box, a province's own checkbox covering its cities, chips of the choice.
  document.querySelectorAll(".regions").forEach(function (r) {
    var chips = r.querySelector(".chips");
    function update() {
      chips.textContent = "";
      var any = false;
      r.querySelectorAll("details").forEach(function (d) {
        var prov = d.querySelector("input.prov");
        d.querySelectorAll(".cities input").forEach(function (c) { c.disabled = prov.checked; if (prov.checked) c.checked = false; });
        var picked = prov.checked ? [prov] : Array.prototype.slice.call(d.querySelectorAll(".cities input:checked"));
        picked.forEach(function (i) { any = true; chips.appendChild(el("span", { "class": "chip" }, i.value.replace("/", " · "))); });
      });
      if (!any) chips.appendChild(el("span", { "class": "muted small" }, "未选择：所有地区的用户都可参与"));
    }
    r.addEventListener("change", update);
    var search = r.querySelector("input[type=search]");
    if (search) search.addEventListener("input", function () {
      // A province that matches shows all its cities; otherwise only the cities that match
      // (深圳 lists 广东省 › 深圳市, not every city of 广东).
      var q = search.value.trim();
      r.querySelectorAll("details").forEach(function (d) {
        var provHit = !q || d.querySelector("summary").textContent.indexOf(q) >= 0, cityHit = false;
        d.querySelectorAll(".cities label").forEach(function (l) {
          var hit = provHit || l.textContent.indexOf(q) >= 0;
          l.style.display = hit ? "" : "none";
          cityHit = cityHit || (!provHit && hit);
        });
        d.style.display = provHit || cityHit ? "" : "none";
        d.open = cityHit;
      });
    });
    var clear = r.querySelector("[data-clear]");
    if (clear) clear.addEventListener("click", function () { r.querySelectorAll("input[type=checkbox]").forEach(function (i) { i.checked = false; }); update(); });
    update();
  });

  // Top-up page: poll the status until paid (the server asks WeChat when the notice is late).
  var poll = document.querySelector("[data-poll]");
  if (poll) {
    var tick = function () {
      fetch(poll.dataset.poll, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (j) {
        if (j.status === "paid") { location.href = poll.dataset.done; return; }
        if (j.status === "closed") { location.reload(); return; }
        setTimeout(tick, 2000);
      }).catch(function () { setTimeout(tick, 4000); });
    };
    setTimeout(tick, 1500);
  }

  // Copy buttons: <button data-copy="text">.
  document.querySelectorAll("[data-copy]").forEach(function (b) {
    b.addEventListener("click", function () {
      var done = function () { var t = b.textContent; b.textContent = "已复制"; setTimeout(function () { b.textContent = t; }, 1200); };
      if (navigator.clipboard) navigator.clipboard.writeText(b.dataset.copy).then(done, done); else done();
    });
  });

  // File pickers: show the chosen file's name.
  document.querySelectorAll(".file-pick input[type=file]").forEach(function (i) {
    i.addEventListener("change", function () {
      var n = i.closest(".file-pick").querySelector(".file-name");
      if (n) n.textContent = i.files.length ? i.files[0].name : "未选择文件";
    });
  });

  // A field the merchant corrects loses its error mark (the server checks again on submit).
  document.querySelectorAll(".field.has-error").forEach(function (f) {
    f.addEventListener("input", function () {
      f.classList.remove("has-error");
      f.querySelectorAll(".field-error").forEach(function (e) { e.hidden = true; });
    });
  });

  // Amount presets: <button data-amount="500"> fill the nearest amount input.
  document.querySelectorAll("[data-amount]").forEach(function (b) {
    b.addEventListener("click", function () { var i = b.closest("form").querySelector("input[name=amount]"); i.value = b.dataset.amount; i.focus(); });
  });

  // Stock adjustment: show what the change freezes or releases.
  document.querySelectorAll("[data-commission]").forEach(function (f) {
    var out = f.querySelector(".freeze-note"), c = parseFloat(f.dataset.commission);
    function upd() {
      var n = parseInt(f.querySelector("input[name=count]").value, 10) || 0;
      var add = f.querySelector("select[name=direction]").value !== "remove";
      if (!out || !f.dataset.published) return;
      out.textContent = n > 0 ? (add ? "将冻结 " : "将解冻 ") + (n * c).toFixed(2) + " 元红包资产" : "";
    }
    f.addEventListener("input", upd); f.addEventListener("change", upd); upd();
  });

  // Last: the page's behaviour is wired up (browser tests wait for this, never for a time).
  document.documentElement.dataset.ready = "1";
})();
