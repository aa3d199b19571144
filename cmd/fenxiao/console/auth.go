package console

import (
	"strings"

	"fenxiao/campaign/merchant"

	"github.com/gofiber/fiber/v2"
)

// authForm is what the log-in and sign-up pages show again after an error (never the
// password).
type authForm struct {
	ShopName, Email, Next string
}

func (con *Server) loginPage(c *fiber.Ctx) error {
	if _, err := con.Merchants.ConsoleSession(c.UserContext(), c.Cookies(conSessionCookie)); err == nil {
		return c.Redirect(consoleNext(c.Query("next")), fiber.StatusSeeOther)
	}
	return con.render(c, "login", &consolePage{Title: "登录", Data: authForm{Next: c.Query("next")}})
}

func (con *Server) login(c *fiber.Ctx) error {
	f := merchant.LogInForm{Email: c.FormValue("email"), Password: c.FormValue("password"), IP: con.RemoteIP(c)}
	_, token, err := con.Merchants.LogIn(c.UserContext(), f, c.Cookies(conSessionCookie))
	if err != nil {
		return con.form(c, "login", &consolePage{Title: "登录", Data: authForm{Email: f.Email, Next: c.FormValue("next")}}, err)
	}
	c.Cookie(con.cookie(conSessionCookie, token, conSessionMaxAge))
	return c.Redirect(consoleNext(c.FormValue("next")), fiber.StatusSeeOther)
}

func (con *Server) signupPage(c *fiber.Ctx) error {
	return con.render(c, "signup", &consolePage{Title: "注册", Data: authForm{}})
}

func (con *Server) signup(c *fiber.Ctx) error {
	f := merchant.SignUpForm{ShopName: c.FormValue("shop_name"), Email: c.FormValue("email"),
		Password: c.FormValue("password"), Confirm: c.FormValue("confirm"), IP: con.RemoteIP(c)}
	_, token, err := con.Merchants.SignUp(c.UserContext(), f)
	if err != nil {
		return con.form(c, "signup", &consolePage{Title: "注册", Data: authForm{ShopName: f.ShopName, Email: f.Email}}, err)
	}
	con.Merchants.EndConsoleSession(c.UserContext(), c.Cookies(conSessionCookie)) //nolint:errcheck // best effort: the old session is replaced
	c.Cookie(con.cookie(conSessionCookie, token, conSessionMaxAge))
	return con.redirect(c, "/console/", "ok", "注册成功！下一步：填写微信设置。")
}

func (con *Server) logout(c *fiber.Ctx) error {
	if err := con.Merchants.EndConsoleSession(c.UserContext(), c.Cookies(conSessionCookie)); err != nil {
		return err
	}
	c.Cookie(con.cookie(conSessionCookie, "", -1))
	return con.redirect(c, "/console/login", "ok", "已退出登录")
}

func (con *Server) accountPage(c *fiber.Ctx) error {
	return con.render(c, "account", &consolePage{Title: "账号", Nav: "account"})
}

func (con *Server) changePassword(c *fiber.Ctx) error {
	f := merchant.PasswordForm{Current: c.FormValue("current"), New: c.FormValue("new"), Confirm: c.FormValue("confirm")}
	err := con.Merchants.ChangePassword(c.UserContext(), session(c).ID, f, c.Cookies(conSessionCookie))
	if err != nil {
		return con.form(c, "account", &consolePage{Title: "账号", Nav: "account"}, err)
	}
	return con.redirect(c, "/console/account", "ok", "密码已修改，其他设备上的登录已退出")
}

// consoleNext keeps the after-log-in redirect inside the console.
func consoleNext(next string) string {
	if !strings.HasPrefix(next, "/console/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/console/"
	}
	return next
}
