package redistest

import (
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// A cluster shared by a test binary's tests has no test to stop it: its processes are
// started by one OS thread that lives as long as the binary, with the kernel told to
// kill them when that thread ends (PR_SET_PDEATHSIG fires when the thread that forked
// a process exits, so it must be one that never does).
var spawner struct {
	once sync.Once
	reqs chan spawn
}

type spawn struct {
	cmd  *exec.Cmd
	done chan error
}

func startChild(cmd *exec.Cmd) error {
	spawner.once.Do(func() {
		spawner.reqs = make(chan spawn)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the process
			for r := range spawner.reqs {
				r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	spawner.reqs <- spawn{cmd, done}
	return <-done
}

// pause stops p (SIGSTOP), or lets it go on (SIGCONT).
func pause(p *os.Process, stop bool) error {
	if stop {
		return p.Signal(syscall.SIGSTOP)
	}
	return p.Signal(syscall.SIGCONT)
}
