// Package wechat is the only place that speaks WeChat: an adapter over
// github.com/silenceper/wechat/v2 and, in wechat/sim, a simulator of the WeChat servers.
package wechat
