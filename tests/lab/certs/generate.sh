#!/usr/bin/env bash
# Regenerates the lab-only TLS certificates in this folder (run once; the results are committed so
# that neither the lab nor the unit tests need openssl). Needs OpenSSL 1.1.1 or later.
#
#   bash tests/lab/certs/generate.sh
#
# Subjects and issuers copy the vendor factory defaults listed in README.md; the keys are fresh,
# throw-away and lab-only: they protect nothing.
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
DAYS=7300
NBSP=$(printf '\xc2\xa0')

self_signed() { # NAME SUBJECT [EXTRA_EXTENSION]
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$DAYS" -utf8 \
    -keyout "$1.key" -out "$1.crt" -subj "$2" \
    -addext "basicConstraints=critical,CA:TRUE" ${3:+-addext "$3"} 2>/dev/null
}

leaf() { # NAME SUBJECT CA
  openssl req -new -newkey rsa:2048 -nodes -utf8 -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA "$3.crt" -CAkey "$3.key" -CAcreateserial -sha256 -days "$DAYS" \
    -extfile <(printf 'basicConstraints=CA:FALSE\n') -out "$1.crt" 2>/dev/null
  rm -f "$1.csr" "$3.srl"
}

# Hikvision factory default (rapid7/recog xml/x509_subjects.xml), self-signed.
self_signed hikvision-default '/C=CN/ST=ZheJiang/L=HangZhou/O=HIKVISION/OU=DVRNVR/CN=www.hikvision.com'

# Dahua NVR: leaf CN=<device IP>, C=CN, issued by "Dahua Device NVR CA" (D4-project/Plum-Island
# issue #204, which shows no-break spaces inside the issuer's CN and O).
self_signed dahua-device-nvr-ca "/C=CN/ST=Zhejiang/L=Hangzhou/O=Zhejiang${NBSP}Dahua${NBSP}Technology${NBSP}Co.,Ltd./CN=Dahua${NBSP}Device${NBSP}NVR${NBSP}CA"
leaf dahua-198.18.0.20 '/C=CN/CN=198.18.0.20' dahua-device-nvr-ca

# Dahua "CN=NVR" issuer (rroller/dahua issue #647), used for the Amcrest (Dahua OEM) lab device.
self_signed dahua-nvr-ca '/CN=NVR/C=CN/ST=Zhejiang/L=Hangzhou/O=ZheJiang Dahua Technology CO.,LTD./OU=NVR'
leaf dahua-198.18.0.21 '/CN=198.18.0.21/C=CN' dahua-nvr-ca

# The hostile lab device: a plain self-signed certificate with subjectAltNames (invented).
self_signed hosttcp '/CN=hosttcp.lab.invalid' 'subjectAltName=DNS:hosttcp.lab.invalid,IP:198.18.0.66'

# The CA keys are not needed once the leaves are signed.
rm -f dahua-device-nvr-ca.key dahua-nvr-ca.key
echo "certificates written to $PWD"
