package console

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"fenxiao/campaign"
	"fenxiao/campaign/merchant"
	"fenxiao/wallet"
)

// notifyData is the 模板消息 part of the WeChat settings page: the template id of each
// notification with the keyword layout it needs, the test receiver and the sends given up.
type notifyData struct {
	Layouts   []wallet.Layout
	Templates map[wallet.NoteKind]string
	Receiver  campaign.Receiver
	Failures  wallet.NoteFailures
}

// Template returns the id shown for kind.
func (d notifyData) Template(k wallet.NoteKind) string { return d.Templates[k] }

func (con *Server) notifyData(c *fiber.Ctx, typed map[wallet.NoteKind]string) (notifyData, error) {
	ctx, m := c.UserContext(), merchantOf(c)
	d := notifyData{Layouts: wallet.Layouts, Templates: typed}
	var err error
	if d.Templates == nil {
		if d.Templates, err = con.Payouts.Templates(ctx, m); err != nil {
			return d, err
		}
	}
	if d.Receiver, err = con.Campaign.NotifyReceiver(ctx, m); err != nil {
		return d, err
	}
	d.Failures, err = con.Payouts.FailedNotifications(ctx, m)
	return d, err
}

// saveTemplates stores the template ids; a malformed one is shown beside its field.
func (con *Server) saveTemplates(c *fiber.Ctx) error {
	ids := map[wallet.NoteKind]string{}
	for _, l := range wallet.Layouts {
		ids[l.Kind] = c.FormValue("tpl_" + string(l.Kind))
	}
	if err := campaign.CheckTemplateIDs(ids); err != nil {
		info, ierr := con.Merchants.WeChatInfo(c.UserContext(), merchantOf(c))
		if ierr != nil {
			return ierr
		}
		n, nerr := con.notifyData(c, ids)
		if nerr != nil {
			return nerr
		}
		return con.form(c, "wechat", &consolePage{Title: "微信设置", Nav: "wechat",
			Data: wechatData{Info: info, Form: merchant.WeChatForm{AppID: info.AppID, MchID: info.MchID}, Notify: n}}, err)
	}
	if err := con.Payouts.SetTemplates(c.UserContext(), merchantOf(c), ids); err != nil {
		return err
	}
	return con.redirect(c, "/console/wechat#notify", "ok", "模板消息设置已保存")
}

// receiverQR issues the QR code that binds whoever scans it as the test receiver.
func (con *Server) receiverQR(c *fiber.Ctx) error {
	if _, err := con.Campaign.IssueReceiverQR(c.UserContext(), merchantOf(c)); err != nil {
		return con.refuse(c, "/console/wechat#notify", err)
	}
	return con.redirect(c, "/console/wechat#notify", "ok", "请用微信扫描二维码，关注公众号后即绑定为测试消息接收人")
}

// testMessage sends every configured notification, with sample values, to the test receiver.
func (con *Server) testMessage(c *fiber.Ctx) error {
	ctx, m := c.UserContext(), merchantOf(c)
	r, err := con.Campaign.NotifyReceiver(ctx, m)
	if err != nil {
		return err
	}
	if !r.Bound() {
		return con.redirect(c, "/console/wechat#notify", "error", "请先扫码绑定接收测试消息的微信")
	}
	sent, refused, err := con.Payouts.SendTest(ctx, m, r.OpenID)
	if err != nil {
		return con.refuse(c, "/console/wechat#notify", err)
	}
	if len(refused) == 0 && sent == 0 {
		return con.redirect(c, "/console/wechat#notify", "error", "还没有填写任何模板 ID")
	}
	if len(refused) == 0 {
		return con.redirect(c, "/console/wechat#notify", "ok", "已发送 "+strconv.Itoa(sent)+" 条测试消息，请在微信中查看")
	}
	msg := "已发送 " + strconv.Itoa(sent) + " 条；微信拒绝了："
	for _, l := range wallet.Layouts {
		if e := refused[l.Kind]; e != nil {
			msg += l.Title + "（" + e.Error() + "）；"
		}
	}
	return con.redirect(c, "/console/wechat#notify", "error", msg)
}
