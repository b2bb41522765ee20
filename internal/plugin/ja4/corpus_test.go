package ja4

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/nfstream-go/nfstream/internal/testing/corpus"
)

// tsharkCaptures are the corpus captures in which tshark 4.0 finds TLS or
// QUIC ClientHellos (every capture of the corpus was searched with
// tshark -Y 'tls.handshake.type == 1'): browsers and apps over TLS 1.2 and
// 1.3 (443-*.pcap, instagram, webex, ...), GREASE (chrome-based apps),
// IPv6 and tunnels (http_ipv6, 4in6tunnel, 6in4tunnel), PPP
// (dlt_ppp), STARTTLS (smtp-starttls), QUIC v1, drafts 23-29 and vendor
// versions (quic*.pcap*, doq*), ClientHellos over several Initial packets
// and CRYPTO frames out of order (quic_frags_*), ESNI (tls_esni_sni_both,
// encrypted_sni, tls-esni-fuzzed).
var tsharkCaptures = []string{
	"1kxun.pcap", "443-curl.pcap", "443-firefox.pcap", "443-git.pcap", "443-opvn.pcap", "443-safari.pcap",
	"4in6tunnel.pcap", "6in4tunnel.pcap", "KakaoTalk_chat.pcap", "KakaoTalk_talk.pcap", "alexa-app.pcapng",
	"android.pcap", "anyconnect-vpn.pcap", "anydesk-2.pcap", "dlt_ppp.pcap", "dns_doh.pcap", "dns_dot.pcap",
	"dnscrypt-v2-doh.pcap", "doq.pcapng", "doq_adguard.pcapng", "encrypted_sni.pcap", "facebook.pcap",
	"forticlient.pcap", "google_ssl.pcap", "googledns_android10.pcap", "http_ipv6.pcap", "imaps.pcap",
	"instagram.pcap", "iphone.pcap", "ja3_lots_of_cipher_suites.pcap", "long_tls_certificate.pcap",
	"malware.pcap", "nintendo.pcap", "no_sni.pcap", "one_flow.pcap", "one_flow_1_5.pcap", "os_detected.pcapng",
	"quic-23.pcap", "quic-24.pcap", "quic-27.pcap", "quic-28.pcap", "quic-29.pcap", "quic-33.pcapng",
	"quic-mvfst-22.pcap", "quic-mvfst-27.pcapng", "quic-mvfst-exp.pcap", "quic_0RTT.pcap",
	"quic_frags_ch_in_multiple_packets.pcapng", "quic_frags_ch_out_of_order_same_packet_craziness.pcapng",
	"quic_interop_V.pcapng", "quic_t50.pcap", "quic_t51.pcap", "selfsigned.pcap", "signal.pcap",
	"simple-dnscrypt.pcap", "skype.pcap", "skype_no_unknown.pcap", "smtp-starttls.pcap", "snapchat.pcap",
	"ssl-cert-name-mismatch.pcap", "tls-esni-fuzzed.pcap", "tls-rdn-extract.pcap", "tls_alert.pcap",
	"tls_certificate_too_long.pcap", "tls_esni_sni_both.pcap", "tls_long_cert.pcap",
	"tls_verylong_certificate.pcap", "tor.pcap", "viber.pcap", "wa_voice.pcap", "waze.pcap", "webex.pcap",
	"wechat.pcap", "weibo.pcap", "whatsapp_login_call.pcap", "whatsappfiles.pcap", "youtubeupload.pcap",
	"zoom.pcap",
}

// tsharkOnly are the ClientHellos tshark finds that the package is not
// meant to: TLS not at the start of a TCP stream, or a QUIC version whose
// Initial protection it does not know.
var tsharkOnly = map[string]string{
	"443-opvn.pcap":      "TLS inside OpenVPN's own framing (TCP port 1194)",
	"smtp-starttls.pcap": "TLS after SMTP STARTTLS, not at the start of the TCP stream",
	"quic_t50.pcap":      "Google QUIC T050: its Initial salt is not implemented",
	"quic_t51.pcap":      "Google QUIC T051: its Initial salt is not implemented",
}

// TestCorpusTshark compares, on every ClientHello of the corpus captures
// above, the package's JA4 (captures read with pcapgo, one assembler per
// flow direction) with specJA4 over tshark's decoded fields.
func TestCorpusTshark(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 78 captures through tshark take about 25 s")
	}
	dir := corpus.Dir(t)
	tshark := needTshark(t)
	var agree, differ, missed, skipped, ownOnly int
	for _, name := range tsharkCaptures {
		path := filepath.Join(dir, "pcaps", name)
		if _, err := os.Stat(path); err != nil {
			t.Logf("%s: not in the corpus", name)
			continue
		}
		own, _ := captureJA4(t, path)
		seen := map[string]bool{}
		for _, h := range tsharkHellos(t, tshark, path) {
			if seen[h.key] { // the first ClientHello of each flow direction
				continue
			}
			seen[h.key] = true
			want := specJA4(h.key[0], h)
			got, ok := own[h.key]
			switch {
			case !ok && tsharkOnly[name] != "":
				skipped++
				t.Logf("%s frame %s %s: tshark %s; not for the package: %s", name, h.frame, h.key, want, tsharkOnly[name])
			case !ok:
				missed++
				t.Errorf("%s frame %s %s: tshark %s, package found no ClientHello", name, h.frame, h.key, want)
			case got != want:
				differ++
				t.Errorf("%s frame %s %s: package %s, tshark %s", name, h.frame, h.key, got, want)
			default:
				agree++
			}
		}
		for k, v := range own {
			if !seen[k] {
				ownOnly++
				t.Logf("%s %s: package %s, tshark shows no ClientHello", name, k, v)
			}
		}
	}
	t.Logf("corpus ClientHellos (first of each flow direction): %d agree with tshark, %d differ, %d missed, %d known misses, %d only the package found (TLS on ports tshark does not decode as TLS)",
		agree, differ, missed, skipped, ownOnly)
	if agree < 500 {
		t.Errorf("only %d ClientHellos compared", agree)
	}
}

// TestCorpusNFStream compares with NFStream's own JA4 plugin output
// (plugins/ja4/<capture>.csv, column udps.ja4), flow by flow. NFStream
// gives JA4 for TCP flows only (no QUIC in the corpus results).
//
// Where NFStream departs from the specification:
//
//   - instagram.pcap, 6 flows (192.168.2.17:49355-49361 to 31.13.86.52):
//     the ClientHello (Facebook's fizz) lists supported_versions 0x0304 and
//     0xfb1a, a private version. The spec takes "the highest value in the
//     extension" and prints "00" for an unknown version: t00d0309h1_...
//     (tshark's fields assembled by specJA4 agree). NFStream prints
//     "24925" in place of the two version characters (t24925d0309h1_...),
//     so its JA4_a is 13 characters long; the b and c parts agree.
//
//   - tls_esni_sni_both.pcap, 2 flows: NFStream, the package and tshark
//     (specJA4) agree, t13d031100_55b375c5d22e_77359c92d649. These two
//     ClientHellos are the corpus's only ones with signature_algorithms_cert
//     (0x0032) next to signature_algorithms (0x000d); a JA4 built from
//     tshark's -T fields output takes every tls.handshake.sig_hash_alg, the
//     8 algorithms of 0x0032 appended to the 11 of 0x000d, and gets
//     t13d031100_55b375c5d22e_3ac62d61400c: that computation, not NFStream,
//     departs from the spec, which hashes the signature_algorithms
//     extension's list only (FoxIO's own implementation was fixed to that:
//     ja4 https://github.com/FoxIO-LLC/ja4/blob/main/rust/CHANGELOG.md, "Take signature algorithm hex values from
//     signature_algorithms extension only"). tsharkHellos reads the list
//     from inside extension 13 for that reason.
var nfstreamDeparts = map[string]string{
	"instagram.pcap": "supported_versions 0xfb1a: the spec prints 00, NFStream 24925",
}

func TestCorpusNFStream(t *testing.T) {
	dir := corpus.Dir(t)
	csvs, _ := filepath.Glob(filepath.Join(dir, "plugins", "ja4", "*.csv"))
	sort.Strings(csvs)
	var agree, differ, departs, missing int
	for _, csvPath := range csvs {
		name := strings.TrimSuffix(filepath.Base(csvPath), ".csv")
		tab, err := corpus.ReadCSV(csvPath)
		if err != nil {
			t.Fatal(err)
		}
		col := tab.Col("udps.ja4")
		var rows [][]string
		for _, r := range tab.Rows {
			if col >= 0 && col < len(r) && r[col] != "" {
				rows = append(rows, r)
			}
		}
		if len(rows) == 0 {
			continue
		}
		path := filepath.Join(dir, "pcaps", name)
		if _, err := os.Stat(path); err != nil {
			t.Logf("%s: capture not in the corpus", name)
			continue
		}
		own, _ := captureJA4(t, path)
		c := func(r []string, n string) string { return r[tab.Col(n)] }
		for _, r := range rows {
			proto := byte('t')
			if c(r, "protocol") == "17" {
				proto = 'q'
			}
			key := string(proto) + " " + c(r, "src_ip") + ":" + c(r, "src_port") + ">" + c(r, "dst_ip") + ":" + c(r, "dst_port")
			got, ok := own[key]
			switch {
			case !ok:
				missing++
				t.Errorf("%s flow %s %s: NFStream %s, package found no ClientHello", name, c(r, "id"), key, r[col])
			case got != r[col] && nfstreamDeparts[name] != "":
				departs++
				t.Logf("%s flow %s %s: package %s, NFStream %s (%s)", name, c(r, "id"), key, got, r[col], nfstreamDeparts[name])
			case got != r[col]:
				differ++
				t.Errorf("%s flow %s %s: package %s, NFStream %s", name, c(r, "id"), key, got, r[col])
			default:
				agree++
			}
		}
	}
	t.Logf("NFStream flows with a JA4: %d agree, %d differ where NFStream departs from the spec, %d differ otherwise, %d without a ClientHello here",
		agree, departs, differ, missing)
	if agree < 300 {
		t.Errorf("only %d flows compared", agree)
	}
}
