// Command wechatsim will run the WeChat simulator (package wechat/sim) on its own.
// Until the simulator exists it only says so.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "wechatsim: the WeChat simulator is not built yet")
	os.Exit(1)
}
