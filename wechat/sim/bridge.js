/* WeChat simulator bridge: WeixinJSBridge (payment) and wx — the JS-SDK's API as
   jweixin-1.6.0.js has it: config/ready/error, the share card, openAddress, chooseWXPay —
   for an ordinary browser (dev and tests only). Like the real JS-SDK, wx checks the config's
   signature and refuses an API the config did not list, or a share link off the page's
   domain, so page code that works here works in WeChat. Inside WeChat the real bridge exists
   and this script does nothing. */
(function () {
  "use strict";
  if (window.WeixinJSBridge && !window.WeixinJSBridge.__wxsim) return;
  var script = document.currentScript;
  var SIM = (window.WXSIM_BASE || (script && script.dataset.sim) ||
    (script && script.src ? new URL(script.src).origin : "")).replace(/\/$/, "");
  /* share: the card of each kind (update*ShareData, or a legacy onMenuShare* when no card was
     set); listen: the legacy callbacks told when the user shares. */
  var state = { shares: [], share: {}, listen: {}, invokes: [], appId: "", jsApiList: [] };
  window.WXSIM = state;

  function el(tag, css, text) {
    var e = document.createElement(tag);
    if (css) e.style.cssText = css;
    if (text) e.textContent = text;
    return e;
  }
  function toast(text) {
    var t = el("div", "position:fixed;left:50%;top:40%;transform:translate(-50%,-50%);z-index:2147483647;" +
      "background:rgba(17,17,17,.8);color:#fff;padding:14px 20px;border-radius:8px;font:15px/1.4 sans-serif;max-width:70%;text-align:center", text);
    document.body.appendChild(t);
    setTimeout(function () { t.remove(); }, 1600);
  }
  function done(cb, res) { if (typeof cb === "function") cb(res); }

  /* Payment: the simulator's cashier in a bottom sheet; it posts the result back. */
  function pay(args, cb) {
    var q = new URLSearchParams({ embed: "1" });
    ["appId", "timeStamp", "nonceStr", "package", "signType", "paySign"].forEach(function (k) {
      q.set(k, args[k] == null ? "" : String(args[k]));
    });
    var mask = el("div", "position:fixed;inset:0;z-index:2147483646;background:rgba(0,0,0,.5);display:flex;align-items:flex-end;justify-content:center");
    var frame = el("iframe", "width:100%;max-width:480px;height:78vh;border:0;border-radius:12px 12px 0 0;background:#ededed");
    frame.src = SIM + "/pay/cashier?" + q.toString();
    frame.title = "微信支付";
    mask.appendChild(frame);
    document.body.appendChild(mask);
    function onMessage(ev) {
      if (ev.source !== frame.contentWindow || !ev.data || ev.data.wxsim !== "pay") return;
      window.removeEventListener("message", onMessage);
      mask.remove();
      done(cb, { err_msg: "get_brand_wcpay_request:" + ev.data.result, err_desc: ev.data.error || "" });
    }
    window.addEventListener("message", onMessage);
  }

  /* Address book: the simulator's page of saved addresses in a bottom sheet (wx.openAddress). */
  function openAddress(o) {
    var mask = el("div", "position:fixed;inset:0;z-index:2147483646;background:rgba(0,0,0,.5);display:flex;align-items:flex-end;justify-content:center");
    var frame = el("iframe", "width:100%;max-width:480px;height:60vh;border:0;border-radius:12px 12px 0 0;background:#ededed");
    frame.src = SIM + "/sim/address?" + new URLSearchParams({ appid: state.appId || "" }).toString();
    frame.title = "选择收货地址";
    mask.appendChild(frame);
    document.body.appendChild(mask);
    function onMessage(ev) {
      if (ev.source !== frame.contentWindow || !ev.data || ev.data.wxsim !== "address") return;
      window.removeEventListener("message", onMessage);
      mask.remove();
      if (ev.data.cancel) return done(o && (o.cancel || o.fail), { errMsg: "openAddress:cancel" });
      var a = ev.data.address, res = { errMsg: "openAddress:ok" };
      for (var k in a) res[k] = a[k];
      done(o && o.success, res);
    }
    window.addEventListener("message", onMessage);
  }

  /* Shares: the card per kind; the 分享 menu shares it like WeChat's top-right menu and tells
     the legacy callbacks (trigger, then success). */
  function doShare(kind) {
    var o = state.share[kind] || {}, l = state.listen[kind] || {};
    var rec = { kind: kind, title: o.title || document.title, desc: o.desc || "", link: o.link || location.href,
      imgUrl: o.imgUrl || "", page: location.href };
    state.shares.push(rec);
    fetch(SIM + "/sim/shares", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(rec) })
      .catch(function () {});
    if (l.trigger) l.trigger();
    if (l.success) l.success({ errMsg: "ok" });
    sheet(kind === "timeline" ? "已分享到朋友圈" : "已发送给朋友", rec.link);
  }
  function sheet(title, link) {
    var mask = el("div", "position:fixed;inset:0;z-index:2147483646;background:rgba(0,0,0,.5);display:flex;align-items:flex-end;justify-content:center");
    var box = el("div", "width:100%;max-width:480px;background:#f7f7f7;border-radius:12px 12px 0 0;font:15px/1.5 -apple-system,sans-serif;color:#111;padding-bottom:8px");
    mask.appendChild(box);
    function close() { mask.remove(); }
    mask.addEventListener("click", function (e) { if (e.target === mask) close(); });
    if (link) {
      box.appendChild(el("div", "padding:16px 16px 4px;font-weight:600", title));
      box.appendChild(el("div", "padding:0 16px 12px;color:#576b95;word-break:break-all;font-size:13px", link));
      var open = el("a", "display:block;margin:0 16px 12px;padding:10px;text-align:center;background:#07c160;color:#fff;border-radius:6px;text-decoration:none", "在新标签页打开分享链接（换个用户试试）");
      open.href = link; open.target = "_blank"; open.rel = "noopener";
      box.appendChild(open);
    } else {
      box.appendChild(el("div", "padding:12px 16px;color:#888;font-size:13px;text-align:center", "微信模拟器 · 分享"));
      [["发送给朋友", "appmessage"], ["分享到朋友圈", "timeline"]].forEach(function (it) {
        var b = el("button", "display:block;width:100%;padding:14px;border:0;border-top:1px solid #eee;background:#fff;font-size:16px", it[0]);
        b.addEventListener("click", function () { close(); doShare(it[1]); });
        box.appendChild(b);
      });
      var copy = el("button", "display:block;width:100%;padding:14px;border:0;border-top:1px solid #eee;background:#fff;font-size:16px", "复制链接");
      copy.addEventListener("click", function () {
        close();
        var o = state.share.appmessage || {};
        if (navigator.clipboard) navigator.clipboard.writeText(o.link || location.href).catch(function () {});
        toast("已复制");
      });
      box.appendChild(copy);
    }
    var cancel = el("button", "display:block;width:100%;margin-top:8px;padding:14px;border:0;background:#fff;font-size:16px", link ? "关闭" : "取消");
    cancel.addEventListener("click", close);
    box.appendChild(cancel);
    document.body.appendChild(mask);
  }
  /* WeChat's own title bar with its ··· menu: the page starts below it, as in WeChat, so
     the button never covers page text. */
  var BAR = 44;
  function menuButton() {
    var bar = el("div", "position:fixed;top:0;left:0;right:0;height:" + BAR + "px;z-index:2147483645;display:flex;" +
      "align-items:center;justify-content:center;background:#ededed;border-bottom:1px solid #e0e0e0;" +
      "font:600 16px/1 -apple-system,'PingFang SC','Microsoft YaHei','WenQuanYi Micro Hei',sans-serif;color:#111");
    bar.setAttribute("data-wxsim", "titlebar");
    var title = el("div", "max-width:60%;overflow:hidden;text-overflow:ellipsis;white-space:nowrap", document.title);
    bar.appendChild(title);
    var b = el("button", "position:absolute;top:7px;right:8px;width:44px;height:30px;border-radius:15px;" +
      "border:1px solid rgba(0,0,0,.1);background:rgba(255,255,255,.9);font:16px/1 sans-serif;letter-spacing:1px;color:#111", "···");
    b.title = "分享（微信模拟器）";
    b.setAttribute("aria-label", "分享");
    b.addEventListener("click", function () { sheet(); });
    bar.appendChild(b);
    var room = el("div", "height:" + BAR + "px");
    room.setAttribute("data-wxsim", "room");
    document.body.insertBefore(room, document.body.firstChild);
    document.body.appendChild(bar);
  }

  /* Snapshot mode (a page opened from Moments, a virtual openid): WeChat draws a bar at the
     bottom with 「使用完整服务」, which the page asks the user to tap. The page's script tag
     says so (data-snapshot), standing in for WeChat knowing how the page was opened. */
  var SNAP = 56;
  function snapshotBar() {
    var bar = el("div", "position:fixed;left:0;right:0;bottom:0;height:" + SNAP + "px;z-index:2147483645;display:flex;" +
      "align-items:center;justify-content:space-between;gap:12px;padding:0 16px;background:#f7f7f7;border-top:1px solid #e0e0e0;" +
      "font:14px/1.3 -apple-system,'PingFang SC','Microsoft YaHei','WenQuanYi Micro Hei',sans-serif;color:rgba(0,0,0,.5)");
    bar.setAttribute("data-wxsim", "snapshot");
    bar.appendChild(el("span", "", "快照页 · 部分功能不可用"));
    var b = el("button", "flex:none;padding:8px 14px;border:0;border-radius:6px;background:#07c160;color:#fff;font:600 15px/1 inherit", "使用完整服务");
    b.addEventListener("click", function () {
      /* WeChat re-enters OAuth with the real identity; Fenxiao's dev server has the route
         that starts this page's sign-in again. Elsewhere, say how. */
      if (window.WXSIM_BASE === location.origin) {
        location.href = "/dev/full-service?next=" + encodeURIComponent(location.pathname + location.search);
        return;
      }
      toast("真实微信会重新进入网页授权，用你的真实身份打开本页；请重新打开链接，授权时不勾选「快照模式」。");
    });
    bar.appendChild(b);
    var room = el("div", "height:" + SNAP + "px");
    room.setAttribute("data-wxsim", "room");
    document.body.appendChild(room);
    document.body.appendChild(bar);
  }

  var handlers = {};
  window.WeixinJSBridge = {
    __wxsim: true,
    invoke: function (name, args, cb) {
      args = args || {};
      state.invokes.push({ name: name, args: args });
      if (name === "getBrandWCPayRequest") return pay(args, cb);
      done(cb, { err_msg: name + ":ok" });
    },
    call: function (name) { state.invokes.push({ name: name }); },
    on: function (event, fn) { handlers[event] = fn; }
  };

  if (!window.wx) {
    var ready = [], errors = [], configured = null;
    function settle() {
      if (configured === true) ready.splice(0).forEach(function (f) { f(); });
      if (configured && configured !== true) errors.splice(0).forEach(function (f) { f(configured); });
    }
    /* allowed says whether the page may call an API now, as the JS-SDK does: after a config
       that verified and listed it; otherwise the call's fail gets "<api>:permission denied". */
    function allowed(name, o) {
      if (configured === true && state.jsApiList.indexOf(name) >= 0) return true;
      done(o && o.fail, { errMsg: name + ":permission denied" });
      done(o && o.complete, { errMsg: name + ":permission denied" });
      return false;
    }
    /* A share link must be on the page's own domain (the official account's JS 安全域名). */
    function onDomain(name, o) {
      try { if (!o.link || new URL(o.link, location.href).host === location.host) return true; } catch (e) {}
      done(o.fail, { errMsg: name + ":fail, the link is not on the page's domain" });
      return false;
    }
    function card(name, kind) {
      return function (o) {
        o = o || {};
        if (!allowed(name, o) || !onDomain(name, o)) return;
        state.share[kind] = { title: o.title, desc: o.desc, link: o.link, imgUrl: o.imgUrl, updated: true };
        done(o.success, { errMsg: name + ":ok" });
      };
    }
    function legacy(name, kind) {
      return function (o) {
        o = o || {};
        if (!allowed(name, o) || !onDomain(name, o)) return;
        state.listen[kind] = o;
        if (!state.share[kind] || !state.share[kind].updated) state.share[kind] = { title: o.title, desc: o.desc, link: o.link, imgUrl: o.imgUrl };
      };
    }
    window.wx = {
      config: function (c) {
        state.appId = c.appId;
        state.jsApiList = (c.jsApiList || []).slice();
        var q = new URLSearchParams({ appid: c.appId || "", url: location.href.split("#")[0],
          timestamp: String(c.timestamp), nonceStr: c.nonceStr || "", signature: c.signature || "" });
        fetch(SIM + "/sim/jsapi/verify?" + q.toString()).then(function (r) { return r.json(); }).then(function (r) {
          configured = r.ok ? true : { errMsg: r.errMsg };
          if (!r.ok && c.debug !== false) toast(r.errMsg);
          settle();
        }).catch(function () { configured = { errMsg: "config:fail" }; settle(); });
      },
      ready: function (f) { ready.push(f); settle(); },
      error: function (f) { errors.push(f); settle(); },
      checkJsApi: function (o) {
        var res = {};
        ((o && o.jsApiList) || []).forEach(function (n) { res[n] = typeof window.wx[n] === "function"; });
        done(o && o.success, { errMsg: "checkJsApi:ok", checkResult: res });
      },
      updateAppMessageShareData: card("updateAppMessageShareData", "appmessage"),
      updateTimelineShareData: card("updateTimelineShareData", "timeline"),
      onMenuShareAppMessage: legacy("onMenuShareAppMessage", "appmessage"),
      onMenuShareTimeline: legacy("onMenuShareTimeline", "timeline"),
      hideMenuItems: function () {}, showMenuItems: function () {}, closeWindow: function () { history.back(); },
      openAddress: function (o) {
        if (allowed("openAddress", o)) openAddress(o);
      },
      chooseWXPay: function (o) {
        if (!allowed("chooseWXPay", o)) return;
        pay({ appId: state.appId, timeStamp: o.timestamp, nonceStr: o.nonceStr, package: o.package, signType: o.signType, paySign: o.paySign },
          function (r) {
            var ok = /:ok$/.test(r.err_msg);
            done(ok ? o.success : (/:cancel$/.test(r.err_msg) ? o.cancel : o.fail), { errMsg: r.err_msg.replace("get_brand_wcpay_request", "chooseWXPay") });
          });
      }
    };
  }

  function start() {
    menuButton();
    if (script && script.dataset.snapshot) snapshotBar();
    document.dispatchEvent(new Event("WeixinJSBridgeReady"));
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
