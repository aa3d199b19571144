package console

import (
	"io"

	"fenxiao/campaign/merchant"

	"github.com/gofiber/fiber/v2"
)

// wechatData is the WeChat settings page: what is stored (ids and which secrets are set),
// what was typed (ids only: secrets are never sent back to the browser) and the last test.
type wechatData struct {
	Info   merchant.WeChatInfo
	Form   merchant.WeChatForm
	Test   *merchant.WeChatTest
	Notify notifyData
}

func (con *Server) wechatPage(c *fiber.Ctx) error {
	info, err := con.Merchants.WeChatInfo(c.UserContext(), merchantOf(c))
	if err != nil {
		return err
	}
	n, err := con.notifyData(c, nil)
	if err != nil {
		return err
	}
	return con.render(c, "wechat", &consolePage{Title: "微信设置", Nav: "wechat",
		Data: wechatData{Info: info, Form: merchant.WeChatForm{AppID: info.AppID, MchID: info.MchID}, Notify: n}})
}

// saveWeChat stores the settings. The certificate arrives as a file upload and is checked
// (decoded with the merchant number as its password) before anything is saved.
func (con *Server) saveWeChat(c *fiber.Ctx) error {
	f := merchant.WeChatForm{
		AppID: c.FormValue("app_id"), AppSecret: c.FormValue("app_secret"), Token: c.FormValue("token"),
		EncodingAESKey: c.FormValue("aes_key"), MchID: c.FormValue("mch_id"), APIKey: c.FormValue("api_key"),
	}
	if fh, err := c.FormFile("cert"); err == nil && fh.Size > 0 {
		file, err := fh.Open()
		if err != nil {
			return err
		}
		f.CertP12, err = io.ReadAll(io.LimitReader(file, 1<<20))
		file.Close()
		if err != nil {
			return err
		}
	}
	if err := con.Merchants.SaveWeChat(c.UserContext(), merchantOf(c), f); err != nil {
		info, ierr := con.Merchants.WeChatInfo(c.UserContext(), merchantOf(c))
		if ierr != nil {
			return ierr
		}
		n, nerr := con.notifyData(c, nil)
		if nerr != nil {
			return nerr
		}
		return con.form(c, "wechat", &consolePage{Title: "微信设置", Nav: "wechat",
			Data: wechatData{Info: info, Form: merchant.WeChatForm{AppID: f.AppID, MchID: f.MchID}, Notify: n}}, err)
	}
	return con.redirect(c, "/console/wechat", "ok", "微信设置已保存。密钥已加密保存，不会再显示。")
}

// testWeChat asks WeChat whether the stored settings work and shows the answer on the page.
func (con *Server) testWeChat(c *fiber.Ctx) error {
	res, err := con.Merchants.TestWeChat(c.UserContext(), merchantOf(c))
	if err != nil {
		return con.refuse(c, "/console/wechat", err)
	}
	if res.OK() {
		return con.redirect(c, "/console/wechat", "ok", "连接正常：公众号、微信支付和 API 证书均可用")
	}
	msg := "连接测试未通过："
	for _, m := range []string{res.OA, res.Pay, res.Cert} {
		if m != "" {
			msg += m + "；"
		}
	}
	return con.redirect(c, "/console/wechat", "error", msg)
}

// resumePayouts restarts paused red-packet sending once the merchant fixed the cause.
func (con *Server) resumePayouts(c *fiber.Ctx) error {
	if err := con.Payouts.Resume(c.UserContext(), merchantOf(c)); err != nil {
		return err
	}
	return con.redirect(c, consoleNext(c.FormValue("back")), "ok", "红包已恢复发放；若问题仍在，发放会再次暂停并在此提示")
}
