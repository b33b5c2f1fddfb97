#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# mkcerts.sh DIR: a test CA and the push service's certificate for
# 127.0.0.1 signed by it (P-256, 2 days), for pushsvc.mjs: DIR/ca.crt (the
# sink's ca_file), DIR/push.crt and DIR/push.key (pushsvc's --cert, --key).
# Test keys only: nothing here is for production.
set -eu
d=$1
mkdir -p "$d"
cd "$d"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=herald test push CA" \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
	-keyout ca.key -out ca.crt 2> /dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
	-keyout push.key -out push.csr 2> /dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > push.ext
openssl x509 -req -in push.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile push.ext \
	-out push.crt 2> /dev/null
chmod 600 ca.key push.key
rm -f push.csr push.ext ca.srl
