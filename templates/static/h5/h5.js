/* Fenxiao H5: the little JavaScript the follower's pages need. No framework, no CDN.
   WeChat's JS-SDK (jweixin-1.6.0.js, from WeChat's own origin) gives the pages wx; in dev and
   tests the simulator's /dev/wechatsim.js gives a wx with the same API, so this code runs
   unchanged in both. Payment goes through WeixinJSBridge, which WeChat injects (the simulator
   too). */
(function () {
  "use strict";
  var $ = function (s, el) { return (el || document).querySelector(s); };
  var $$ = function (s, el) { return Array.prototype.slice.call((el || document).querySelectorAll(s)); };
  var campaign = document.body.dataset.campaign;

  function toast(text) {
    var t = $("#toast");
    if (!t) { t = document.createElement("div"); t.className = "toast"; document.body.appendChild(t); }
    t.textContent = text; t.hidden = false;
    clearTimeout(t._h); t._h = setTimeout(function () { t.hidden = true; }, 1800);
  }
  var csrf = ($('meta[name="csrf-token"]') || {}).content || "";
  function api(method, url, body) {
    var headers = { "X-CSRF-Token": csrf };
    if (body) headers["Content-Type"] = "application/json";
    return fetch(url, {
      method: method, credentials: "same-origin", headers: headers,
      body: body ? JSON.stringify(body) : undefined
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) { var e = new Error(j.error || "网络错误，请重试"); e.fields = j.fields; throw e; }
        return j;
      });
    });
  }
  /* wx.config once per page, signed by the server for this page's URL, with every API the
     page's parts asked for (withWx); each part runs in wx.ready. Without wx (a browser outside
     WeChat) or when WeChat refuses the config, the page works without it: the copy button,
     the poster, typing the address. */
  var wxNeeds = [];
  function withWx(apis, f) { wxNeeds.push({ apis: apis, f: f }); }
  function startWx() {
    if (!wxNeeds.length || !campaign || !window.wx || !wx.config) return;
    api("POST", "/api/h5/c/" + campaign + "/jsconfig", { url: location.href.split("#")[0] }).then(function (r) {
      var c = r.config, list = [];
      wxNeeds.forEach(function (n) { n.apis.forEach(function (a) { if (list.indexOf(a) < 0) list.push(a); }); });
      wx.config({ debug: false, appId: c.appId, timestamp: c.timestamp, nonceStr: c.nonceStr, signature: c.signature, jsApiList: list });
      wx.ready(function () { wxNeeds.forEach(function (n) { n.f(r); }); });
      wx.error(function () {});
    }).catch(function () {});
  }

  /* Countdowns: [data-deadline] in Unix ms; the page reloads when one reaches zero. */
  var countdowns = $$("[data-deadline]");
  function pad(n) { return n < 10 ? "0" + n : "" + n; }
  function tick() {
    var now = Date.now();
    countdowns.forEach(function (el) {
      var left = Math.max(0, +el.dataset.deadline - now), s = Math.floor(left / 1000);
      var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
      $(".cd-time", el).textContent = (d > 0 ? d + "天 " : "") + pad(h) + ":" + pad(m) + ":" + pad(s % 60);
      if (left === 0 && !el._done) { el._done = true; setTimeout(function () { location.reload(); }, 1500); }
    });
  }
  if (countdowns.length) { tick(); setInterval(tick, 1000); }

  /* Order ticker: one recent purchase at a time. */
  var items = $$("#ticker li"), cur = 0;
  if (items.length > 1) setInterval(function () {
    items[cur].classList.remove("on"); cur = (cur + 1) % items.length; items[cur].classList.add("on");
  }, 3000);

  /* Gallery dots follow the swipe. */
  var slides = $("#slides"), dots = $$("#dots i");
  if (slides && dots.length) slides.addEventListener("scroll", function () {
    var i = Math.round(slides.scrollLeft / slides.clientWidth);
    dots.forEach(function (d, j) { d.classList.toggle("on", i === j); });
  }, { passive: true });

  /* Splash ad: shown at every entry, skippable, gone by itself a few seconds after its
     picture appears (on a slow network the follower still sees the ad its full time; a
     picture that fails to load closes it at once). */
  var splash = $("#splash");
  if (splash) {
    var skip = $(".splash-skip", splash), n = +skip.dataset.skip, pic = $("img", splash), timer;
    var hide = function () {
      clearInterval(timer);
      splash.classList.add("gone"); setTimeout(function () { splash.hidden = true; }, 300);
    };
    var count = function () {
      timer = setInterval(function () {
        n -= 1; $("span", skip).textContent = n;
        if (n <= 0) hide();
      }, 1000);
    };
    skip.addEventListener("click", hide);
    if (!pic || (pic.complete && pic.naturalWidth)) count();
    else if (pic.complete) hide();
    else { pic.addEventListener("load", count, { once: true }); pic.addEventListener("error", hide, { once: true }); }
  }

  /* Buy: quantity within the limit, the total, then WeChat Pay through the bridge. */
  var stepper = $("#stepper");
  if (stepper) {
    var qty = $("#qty"), max = +stepper.dataset.max, priceFen = Math.round(parseFloat(stepper.dataset.price) * 100);
    var set = function (v) {
      v = Math.max(1, Math.min(max, parseInt(v, 10) || 1));
      qty.value = v;
      var total = (v * priceFen / 100).toFixed(2);
      $("#total").textContent = total; $("#total2").textContent = total;
    };
    $$("[data-step]", stepper).forEach(function (b) {
      b.addEventListener("click", function () { set(+qty.value + +b.dataset.step); });
    });
    qty.addEventListener("change", function () { set(qty.value); });
    var payBtn = $("#pay"), err = $("#buy-error"), checkout = $("#checkout");
    payBtn.addEventListener("click", function () {
      if (!window.WeixinJSBridge) { err.textContent = "请在微信中打开本页面完成支付"; err.hidden = false; return; }
      payBtn.disabled = true; err.hidden = true;
      showFieldErrors({});
      api("POST", payBtn.dataset.url, { qty: +qty.value, contact: contactOf(checkout) }).then(function (o) {
        if (o.notice) toast(o.notice);
        WeixinJSBridge.invoke("getBrandWCPayRequest", o.pay, function (res) {
          var msg = (res && res.err_msg) || "";
          if (/:ok$/.test(msg)) location.href = o.next;
          else location.href = o.next + "?r=cancel";
        });
      }).catch(function (e) {
        payBtn.disabled = false; err.textContent = e.message; err.hidden = false;
        if (e.fields) showFieldErrors(e.fields);
      });
    });
  }

  /* Checkout details: what the buyer typed stays in the fields; each refusal shows under its
     field. The city list follows the province; WeChat's address book fills everything. */
  function contactOf(box) {
    var c = {};
    if (box) $$("input[name], select[name]", box).forEach(function (el) { c[el.name] = el.value; });
    return c;
  }
  function showFieldErrors(fields) {
    var first = null;
    $$(".fld-error").forEach(function (p) {
      var msg = fields[p.dataset.for];
      p.textContent = msg || ""; p.hidden = !msg;
      var fld = $("#fld-" + p.dataset.for);
      if (fld) fld.classList.toggle("bad", !!msg);
      if (msg && !first) first = fld;
    });
    if (first) first.scrollIntoView({ block: "center" });
  }
  var province = $('#checkout select[name="province"]'), city = $('#checkout select[name="city"]');
  function fillCities(want) {
    var opt = province.options[province.selectedIndex], names = opt && opt.dataset.cities ? opt.dataset.cities.split("|") : [];
    if (want && names.indexOf(want) < 0) names.push(want); /* a city WeChat knows by another name */
    city.innerHTML = '<option value="">城市</option>';
    names.forEach(function (n) { var o = document.createElement("option"); o.textContent = n; o.selected = n === want; city.appendChild(o); });
  }
  if (province && city) {
    fillCities(city.dataset.value);
    province.addEventListener("change", function () { fillCities(""); });
  }
  /* WeChat's address book (wx.openAddress): the button shows once wx.config succeeded. */
  var wxAddress = $("#wx-address");
  function fillAddress(a) {
    var box = $("#checkout"), put = function (name, v) { $('[name="' + name + '"]', box).value = v || ""; };
    put("name", a.userName); put("mobile", a.telNumber); put("district", a.countryName); put("detail", a.detailInfo);
    var has = false;
    Array.prototype.forEach.call(province.options, function (o) { if (o.value === a.provinceName) { o.selected = true; has = true; } });
    if (!has) { var o = document.createElement("option"); o.textContent = a.provinceName; o.selected = true; province.appendChild(o); }
    fillCities(a.cityName);
    showFieldErrors({});
  }
  if (wxAddress) withWx(["openAddress"], function () {
    wxAddress.hidden = false;
    wxAddress.addEventListener("click", function () { wx.openAddress({ success: fillAddress }); });
  });

  /* Copy buttons (a tracking number). */
  $$("[data-copy]").forEach(function (b) {
    b.addEventListener("click", function () {
      var done = function () { toast("已复制"); };
      if (navigator.clipboard) navigator.clipboard.writeText(b.dataset.copy).then(done, function () { toast(b.dataset.copy); });
      else toast(b.dataset.copy);
    });
  });

  /* Withdraw: one tap is one claim. */
  var wf = $("#withdraw-form");
  if (wf) wf.addEventListener("submit", function () { var b = $("#withdraw"); setTimeout(function () { b.disabled = true; b.textContent = "提现中…"; }); });

  /* Payment result: WeChat's notification may arrive a moment after the cashier closes. */
  var poll = $("[data-poll]");
  if (poll) {
    var tries = 0;
    (function ask() {
      tries += 1;
      api("GET", poll.dataset.poll).then(function (o) {
        if (o.status !== "pending") return location.reload();
        if (tries === 30) $("#slow").hidden = false;
        if (tries < 120) setTimeout(ask, tries < 10 ? 1000 : 3000);
      }).catch(function () { setTimeout(ask, 3000); });
    })();
  }

  /* Share: copy the link, show where WeChat's share menu is. */
  function recordShare(channel) {
    if (campaign) api("POST", "/api/h5/c/" + campaign + "/shares", { channel: channel }).catch(function () {});
  }
  var copy = $("#copy");
  if (copy) copy.addEventListener("click", function () {
    var input = document.getElementById(copy.dataset.copy), text = input.value;
    var done = function () { toast("链接已复制，快去粘贴给好友吧"); recordShare("link"); };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, fallback);
    else fallback();
    function fallback() { input.select(); input.setSelectionRange(0, text.length); try { document.execCommand("copy"); } catch (e) {} done(); }
  });
  var guide = $("#guide");
  if (guide) {
    $("#share-friends").addEventListener("click", function () { guide.hidden = false; });
    guide.addEventListener("click", function () { guide.hidden = true; });
  }
  var poster = $("#poster");
  if (poster) {
    poster.addEventListener("contextmenu", function () { recordShare("poster"); });
    /* A first poster is drawn on demand; when the server is drawing many it answers 503
       海报生成中 (an <img> sees only "error"), so the page says so and asks again a few
       times, a little later each time. */
    var figure = poster.parentNode, caption = figure.querySelector("figcaption"), said = caption.textContent, alt = poster.alt, tries = 0;
    var retry = function () {
      poster.alt = ""; /* no broken-image icon while waiting */
      figure.classList.add("busy");
      if (tries >= 8) { caption.textContent = "海报暂时无法生成，请稍后刷新页面"; caption.className = "busy"; return; }
      caption.textContent = "海报生成中，请稍后再试…"; caption.className = "busy";
      tries++;
      setTimeout(function () {
        var src = poster.src.replace(/[?&]try=\d+$/, "");
        poster.src = src + (src.indexOf("?") < 0 ? "?" : "&") + "try=" + tries;
      }, 1500 * tries);
    };
    poster.addEventListener("error", retry);
    poster.addEventListener("load", function () { poster.alt = alt; figure.classList.remove("busy"); caption.textContent = said; caption.className = ""; });
    if (poster.complete && poster.naturalWidth === 0 && poster.getAttribute("src")) retry();
  }

  /* The share card: the server says what to share — the sharer's own link, so friends who
     buy through it are attributed to them. updateAppMessageShareData and
     updateTimelineShareData set the card (their success means "set", not "shared"); a share
     is counted when the legacy onMenuShare* callbacks, still in the JS-SDK, see the user pick
     a target (trigger) and then succeed. */
  if (document.body.dataset.share) withWx(["updateAppMessageShareData", "updateTimelineShareData", "onMenuShareAppMessage", "onMenuShareTimeline"], function (r) {
    var sh = r.share;
    var card = function (desc) { return { title: sh.title, desc: desc, link: sh.link, imgUrl: sh.imgUrl }; };
    var counted = function (kind, o) {
      var armed = false;
      o.trigger = function () { armed = true; };
      o.success = function () { if (armed) { armed = false; recordShare(kind); } };
      return o;
    };
    wx.onMenuShareAppMessage(counted("appmessage", card(sh.desc)));
    wx.onMenuShareTimeline(counted("timeline", card("")));
    wx.updateAppMessageShareData(card(sh.desc));
    wx.updateTimelineShareData(card(""));
  });
  startWx();

  /* Last: the page's behaviour is wired up (browser tests wait for this, never for a time). */
  document.documentElement.dataset.ready = "1";
})();
