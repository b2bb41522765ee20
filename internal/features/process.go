package features

// ProcessOwner is a local process that owned one end of a flow (system
// visibility, docs/system-visibility.md). PID and UID are -1 and the
// strings empty when unknown.
type ProcessOwner struct {
	PID, UID           int64
	Name, Exe, Cmdline string
}

// Process is what system visibility found for a flow: Owner is the
// process at the flow's source end when that end is local, else at its
// destination end; Peer, when both ends are local processes (for
// example over loopback), is the process at the destination end.
type Process struct {
	Owner, Peer ProcessOwner
}

// NoOwner is an unknown owner.
var NoOwner = ProcessOwner{PID: -1, UID: -1}

// noProcess stands for a record without system visibility values.
var noProcess = Process{Owner: NoOwner, Peer: NoOwner}

func (r *Record) process() *Process {
	if r.Process == nil {
		return &noProcess
	}
	return r.Process
}
