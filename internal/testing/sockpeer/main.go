// Command sockpeer makes the connections of the system visibility tests
// (docs/system-visibility.md): the tests copy it under several names, so
// each copy is a process with its own name, and compare what nfstream
// attributes with what each copy says it did.
//
//	sockpeer tcp ADDR COUNT HOLD_MS GAP_MS   connect COUNT times in turn
//	sockpeer udp ADDR COUNT HOLD_MS GAP_MS   the same with connected UDP sockets
//	sockpeer serve ADDR                      TCP and UDP echo on ADDR until stdin closes
//
// A client connection writes one byte, reads it back, waits HOLD_MS and
// closes; it then prints "PROTO LOCAL REMOTE MICROSECONDS" (its local and
// remote address and how long the socket was open), and the next one
// starts GAP_MS later. The server prints "ready" once it listens.
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "sockpeer:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 2 && args[0] == "serve" {
		return serve(args[1])
	}
	if len(args) != 5 || (args[0] != "tcp" && args[0] != "udp") {
		return fmt.Errorf("usage: sockpeer tcp|udp ADDR COUNT HOLD_MS GAP_MS | sockpeer serve ADDR")
	}
	var n [3]int
	for i, s := range args[2:] {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			return fmt.Errorf("%q: not a count", s)
		}
		n[i] = v
	}
	hold, gap := time.Duration(n[1])*time.Millisecond, time.Duration(n[2])*time.Millisecond
	for i := 0; i < n[0]; i++ {
		if i > 0 {
			time.Sleep(gap)
		}
		start := time.Now()
		c, err := net.Dial(args[0]+"4", args[1])
		if err != nil {
			return err
		}
		if _, err := c.Write([]byte{'x'}); err != nil {
			return err
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			return err
		}
		time.Sleep(hold)
		local, remote := c.LocalAddr(), c.RemoteAddr()
		c.Close()
		fmt.Printf("%s %s %s %d\n", args[0], local, remote, time.Since(start).Microseconds())
	}
	return nil
}

func serve(addr string) error {
	ln, err := net.Listen("tcp4", addr)
	if err != nil {
		return err
	}
	pc, err := net.ListenPacket("udp4", addr)
	if err != nil {
		return err
	}
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	return nil
}
