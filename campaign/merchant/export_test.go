package merchant

// Pure checks of the console's settings and account forms, for their fuzz target.
var (
	CheckWeChatForm = checkWeChatForm
	CheckEmail      = checkEmail
	NormalEmail     = normalEmail
)

// CheckNewPassword returns the messages of the password rules, by field.
func CheckNewPassword(pw, confirm, email string) map[string]string {
	f := map[string]string{}
	checkNewPassword(f, "password", pw, confirm, email)
	return f
}
