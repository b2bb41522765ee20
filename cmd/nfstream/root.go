package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/nfstream-go/nfstream/internal/decode"
	"github.com/nfstream-go/nfstream/internal/dpi"
	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/meter"
	"github.com/nfstream-go/nfstream/internal/pipeline"
	"github.com/nfstream-go/nfstream/internal/plugin"
)

// version is the tool's version, set at build time with -ldflags.
var version = "0.1.0-dev"

// usageError marks errors in the command line (exit status 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// options holds the command line, validated before any work starts.
type options struct {
	read           []string
	decodeTunnels  bool
	idleTimeout    int64
	activeTimeout  int64
	accountingMode string
	nDissections   int
	stats          bool
	splt           int
	maxFlows       int64
	maxActive      int64
	maxActiveSet   bool // --max-active-flows given (else from memory)
	count          int64
	out            outputOptions
	shard          shardOption // partition.go
	in             captureOptions
	quiet          bool
	plugins        []string
	sys            sysvisOptions
	models         modelOptions

	accounting features.AccountingMode // parsed from accountingMode
	factories  []plugin.Factory        // loaded from plugins
}

func (o *options) addFlags(fs *pflag.FlagSet) {
	fs.StringArrayVarP(&o.read, "read", "r", nil, "read packets from capture `FILE` (pcap or pcapng; repeat for several files read as one capture; - for standard input)")
	fs.BoolVar(&o.decodeTunnels, "decode-tunnels", true, "decapsulate GTP-U, CAPWAP and TZSP and add the tunnel_id column")
	fs.Int64Var(&o.idleTimeout, "idle-timeout", 120, "expire a flow after this many `seconds` without packets")
	fs.Int64Var(&o.activeTimeout, "active-timeout", 1800, "expire a flow this many `seconds` after its first packet")
	fs.StringVar(&o.accountingMode, "accounting-mode", "link", "packet size used by byte counters and size features: link, ip, transport or payload (or 0-3)")
	fs.IntVar(&o.nDissections, "n-dissections", 20, "packets per flow passed to nDPI (0-255; 0 disables dissection)")
	fs.BoolVar(&o.stats, "stats", false, "add the 48 statistical feature columns")
	fs.IntVar(&o.splt, "splt", 0, "add early-flow sequences of `N` packets (0-65535; 0 disables)")
	fs.Int64Var(&o.maxFlows, "max-flows", 0, "stop after `N` flows (0: no limit)")
	fs.Int64Var(&o.maxActive, "max-active-flows", 0, "hold at most `N` flows in memory; when full, the oldest flow is written early with expiration_id 2 (default: from the memory available, see README; 0: no limit)")
	fs.Int64VarP(&o.count, "count", "c", 0, "stop after `N` packets (0: no limit): records read from the files, or packets taken from the rings live; every flow of those packets is written")
	fs.StringArrayVar(&o.plugins, "plugin", nil, "run the NFStream plugin `FILE.star[:name=value,...]` (Starlark) or a built-in one (splt, flow_slicer, dhcp, ja4, mdns) on every flow; repeat for several, run in order (see docs/plugins.md)")
	o.models.addFlags(fs)
	o.in.addFlags(fs)
	o.sys.addFlags(fs)
	o.out.addFlags(fs)
	o.shard.addFlags(fs)
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "print nothing but errors on standard error")
}

var accountingNames = map[string]features.AccountingMode{
	"link": features.AccountLink, "0": features.AccountLink,
	"ip": features.AccountIP, "1": features.AccountIP,
	"transport": features.AccountTransport, "2": features.AccountTransport,
	"payload": features.AccountPayload, "3": features.AccountPayload,
}

// liveOnly are the flags that mean something for live capture only: given
// with -r they are refused, not ignored. (No flag means something for
// files only: the others apply to both.)
var liveOnly = []string{"snaplen", "no-promisc", "buffer-size", "system-visibility", "poll-ms", "proc-root"}

// validate checks every option, naming the bad one; it does no work.
func (o *options) validate(args []string) error {
	if err := o.in.validate(o.read, args); err != nil {
		return err
	}
	stdin := 0
	for _, f := range o.read {
		if f == "-" {
			stdin++
		}
	}
	if stdin > 1 {
		return usagef("-r - (standard input) may appear only once")
	}
	if o.in.iface == "" && o.out.changed != nil {
		for _, name := range liveOnly {
			if o.out.changed(name) {
				return usagef("--%s applies to live capture (-i) only, not to files read with -r", name)
			}
		}
	}
	// The limits are the meter's (meter.Config.Validate); the flags are in
	// seconds.
	if o.idleTimeout < 0 || uint64(o.idleTimeout) > meter.MaxTimeoutSeconds {
		return usagef("--idle-timeout %d: must be a number of seconds from 0 to %d", o.idleTimeout, uint64(meter.MaxTimeoutSeconds))
	}
	if o.activeTimeout < 0 || uint64(o.activeTimeout) > meter.MaxTimeoutSeconds {
		return usagef("--active-timeout %d: must be a number of seconds from 0 to %d", o.activeTimeout, uint64(meter.MaxTimeoutSeconds))
	}
	mode, ok := accountingNames[strings.ToLower(o.accountingMode)]
	if !ok {
		return usagef("--accounting-mode %q: must be link, ip, transport or payload (or 0-3)", o.accountingMode)
	}
	o.accounting = mode
	if o.nDissections < 0 || o.nDissections > meter.MaxDissections {
		return usagef("--n-dissections %d: must be from 0 to %d", o.nDissections, meter.MaxDissections)
	}
	if o.splt < 0 || o.splt > meter.MaxSPLT {
		return usagef("--splt %d: must be from 0 to %d", o.splt, meter.MaxSPLT)
	}
	if o.maxFlows < 0 {
		return usagef("--max-flows %d: must be 0 or more", o.maxFlows)
	}
	if o.maxActive < 0 {
		return usagef("--max-active-flows %d: must be 0 or more", o.maxActive)
	}
	o.maxActiveSet = o.out.changed != nil && o.out.changed("max-active-flows")
	if o.count < 0 {
		return usagef("-c %d: must be 0 or more", o.count)
	}
	if err := o.shard.validate(o.in.iface != ""); err != nil {
		return err
	}
	if err := o.loadModels(); err != nil {
		return err
	}
	if err := o.sys.validate(); err != nil {
		return err
	}
	if o.sys.on() {
		o.in.blockTimeout = sysvisRingTimeout
	}
	if err := o.loadPlugins(); err != nil {
		return err
	}
	o.withModels()
	// Each stage checks its own configuration too; the flags above name
	// what the command line can get wrong, this catches the rest.
	var err error
	if o.in.iface != "" {
		lc := pipeline.LiveConfig{Common: o.common(false)}
		err = lc.Validate()
	} else {
		fc := o.fileConfig(false)
		err = fc.Validate()
	}
	if err != nil {
		return usagef("%v", err)
	}
	return o.out.validate(o.schema().Columns())
}

// splitPlugin splits a --plugin value into the plugin, a Starlark file
// FILE.star (script) or a built-in's name, and its arguments.
func splitPlugin(spec string) (file, args string, script bool) {
	if i := strings.Index(spec, ".star:"); i >= 0 {
		return spec[:i+len(".star")], spec[i+len(".star:"):], true
	}
	if strings.HasSuffix(spec, ".star") {
		return spec, "", true
	}
	file, args, _ = strings.Cut(spec, ":")
	return file, args, false
}

// loadPlugins loads the plugins of --plugin, in order: a script that does
// not compile or whose top level fails is refused here, before any
// output exists.
func (o *options) loadPlugins() error {
	o.factories = nil
	for _, spec := range o.plugins {
		file, args, script := splitPlugin(spec)
		if !script && !plugin.IsBuiltin(file) {
			return usagef("--plugin %q: give a Starlark file FILE.star or a built-in plugin (%s), optionally followed by :name=value,...", spec, strings.Join(plugin.BuiltinNames(), ", "))
		}
		kw, err := plugin.ParseArgs(args)
		if err != nil {
			return usagef("--plugin %q: %v", spec, err)
		}
		var f plugin.Factory
		if script {
			f, err = plugin.LoadStarlark(file, kw, o.models.loaded)
		} else {
			f, err = plugin.LoadBuiltin(file, kw)
		}
		if err != nil {
			return usagef("--plugin %s: %v", file, err)
		}
		o.factories = append(o.factories, f)
	}
	return nil
}

// common is the pipeline configuration both kinds of run share; with
// budget, the default bound on active flows and the Go heap's soft limit
// come from the memory the process may use (meter.MemoryBudget).
func (o *options) common(budget bool) pipeline.Common {
	cfg := pipeline.Common{
		Decode: decode.Options{DecodeTunnels: o.decodeTunnels},
		Meter: meter.Config{
			Features:      features.Config{Accounting: o.accounting, Stats: o.stats, SPLT: o.splt},
			IdleTimeout:   uint64(o.idleTimeout) * 1000,
			Dissections:   o.nDissections,
			ActiveTimeout: uint64(o.activeTimeout) * 1000,
			Plugins:       o.factories,
		},
		MaxFlows:       uint64(o.maxFlows),
		MaxPackets:     uint64(o.count),
		MaxActiveFlows: uint64(o.maxActive),
	}
	if len(o.factories) > 0 {
		cfg.Meter.PluginColumns = o.schema().Columns()
	}
	if budget && !o.maxActiveSet {
		mem, _ := meter.MemoryBudget()
		cfg.MaxActiveFlows, cfg.MemoryLimit = meter.DefaultMaxActive(cfg.Meter), mem/4*3
	}
	return cfg
}

// fileConfig is the configuration of a run over the files of -r.
func (o *options) fileConfig(budget bool) pipeline.FileConfig {
	return pipeline.FileConfig{
		Common:  o.common(budget),
		Sources: o.read,
		Meters:  o.in.meterCount(),
		Shard:   o.shard.cfg,
		Open:    o.in.openFile,
	}
}

func (o *options) schema() features.Schema {
	return features.Schema{Tunnel: o.decodeTunnels, Stats: o.stats, SPLT: o.splt > 0, L7: o.nDissections > 0, System: o.sys.columns}
}

func newRootCommand() *cobra.Command {
	var o options
	cmd := &cobra.Command{
		Use:   "nfstream (-r FILE | -i IFACE) [flags] [BPF filter]",
		Short: "Turn packets into bidirectional flow records with NFStream's features",
		Long: `nfstream reads pcap or pcapng captures and writes one record per
bidirectional flow, with the columns and values of NFStream.`,
		Example: `  nfstream -r capture.pcap -o flows.csv --stats --splt 10
  nfstream -i eth0 --splt 10 -o flows.parquet --rotate 5m
  nfstream -i eth0 -o - tcp port 443
  tcpdump -w - -i eth0 | nfstream -r - > flows.csv`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Trailing arguments are the BPF filter; the first word may also
		// name a subcommand (help, completion).
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.out.changed = cmd.Flags().Changed
			if err := checkTrailing(cmd.Flags(), os.Args, args); err != nil {
				return err
			}
			if !o.out.toStdout() && !o.out.rotating() {
				if err := checkOutputNotInput(o.out.path, o.read); err != nil {
					return err
				}
			}
			if err := o.validate(args); err != nil {
				return err
			}
			return run(cmd, &o)
		},
	}
	cmd.SetVersionTemplate("nfstream {{.Version}}\n" + ndpiVersionLine())
	cmd.SetFlagErrorFunc(flagError)
	cmd.Flags().SortFlags = false
	o.addFlags(cmd.Flags())
	addNegation(cmd.Flags(), "decode-tunnels", &o.decodeTunnels)
	// help and completion (bash, zsh, fish, powershell) come with cobra
	// once the command has subcommands.
	cmd.AddCommand(newManCommand(cmd))
	return cmd
}

// ndpiVersionLine names the nDPI library nfstream runs with.
func ndpiVersionLine() string {
	if v := dpi.Version(); v != "" {
		return "nDPI " + v + "\n"
	}
	return "nDPI: unavailable (built without cgo)\n"
}

// run opens the output and runs the pipeline.
func run(cmd *cobra.Command, o *options) error {
	setHangupPolicy(o.out.rotating() || o.out.part.on(), o.quiet)
	if o.in.iface != "" {
		return runLive(cmd, o)
	}
	if err := checkInputs(o.read); err != nil {
		return err
	}
	tel, stop, err := o.instrument(cmd.Context(), cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	defer stop()
	out, err := o.openOutput(cmd.OutOrStdout())
	if err != nil {
		return err
	}
	st, err := runFiles(cmd, o, out.sink, tel)
	stop()
	out.done()
	// After a write error, or when no input could be read, the output is
	// not there: say nothing of it.
	var summary string
	if !o.quiet && (!o.out.toStdout() || o.out.ipfix.on()) && !out.failed() && st.Sources > 0 {
		summary = fmt.Sprintf("nfstream: %s flows from %s packets (%s ignored) written to %s%s\n",
			strconv.FormatUint(st.Flows, 10), strconv.FormatUint(st.Packets, 10), strconv.FormatUint(st.Ignored, 10), out.describe(), st.LimitNotes()+o.shard.note(st.Skipped))
	}
	return finish(cmd, summary, err)
}

// finish ends a run: on success it prints the summary; on failure the
// summary goes with the error, and main prints it after the error line.
func finish(cmd *cobra.Command, summary string, err error) error {
	if err == nil {
		fmt.Fprint(cmd.ErrOrStderr(), summary)
		return nil
	}
	if summary == "" {
		return err
	}
	return &summarized{err: err, summary: summary}
}

// summarized is a run's error with the summary of what was written anyway.
type summarized struct {
	err     error
	summary string
}

func (e *summarized) Error() string { return e.err.Error() }
func (e *summarized) Unwrap() error { return e.err }

// unwrapPathError drops the *os.PathError wrapper, whose text repeats the
// path we already quote.
func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
