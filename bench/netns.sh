#!/bin/sh
# Two network namespaces, pulse-bench-1 and -2, each joined to this one by
# a veth pair (10.231.N.1 here, 10.231.N.2 there), for the shared limiter's
# bench: workers in them reach Redis and the sandbox through bench/relay.py.
#   bench/netns.sh up | down      (as root; up fails where namespaces are refused)
set -e
case "$1" in
up)
	for n in 1 2; do
		ip netns add pulse-bench-$n
		ip link add pb$n-host type veth peer name pb$n-ns
		ip link set pb$n-ns netns pulse-bench-$n
		ip addr add 10.231.$n.1/24 dev pb$n-host
		ip link set pb$n-host up
		ip netns exec pulse-bench-$n ip addr add 10.231.$n.2/24 dev pb$n-ns
		ip netns exec pulse-bench-$n ip link set pb$n-ns up
		ip netns exec pulse-bench-$n ip link set lo up
	done
	;;
down)
	for n in 1 2; do
		ip netns del pulse-bench-$n 2>/dev/null || true
		ip link del pb$n-host 2>/dev/null || true
	done
	;;
*)
	echo "usage: bench/netns.sh up | down" >&2
	exit 2
	;;
esac
