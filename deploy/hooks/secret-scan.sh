#!/bin/sh
# An example exec scan hook (docs/CONFIGURATION.md, "Scan hooks"): fails an image that ships
# private keys, and reports them as SARIF so slipwayd records a severity summary.
#
#   "argv": ["/path/to/secret-scan.sh", "{oci_dir}", "{report}"]
#
# It reads the image slipwayd materialized as an OCI layout: index.json → manifest → layers,
# each listed with GNU tar (which detects gzip/zstd itself). Real deployments use Trivy or
# another scanner the same way.
set -eu
oci_dir=$1
report=$2
manifest=$(jq -r '.manifests[0].digest' "$oci_dir/index.json")
findings=$(
  for layer in $(jq -r '.layers[].digest' "$oci_dir/blobs/sha256/${manifest#sha256:}"); do
    tar -tf "$oci_dir/blobs/sha256/${layer#sha256:}"
  done | grep -E '(^|/)(id_rsa|id_ed25519|[^/]*\.pem|[^/]*\.key)$' | sort -u || true
)
{
  printf '{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"secret-scan"}},"results":['
  sep=""
  for f in $findings; do
    printf '%s{"ruleId":"private-key","level":"error","message":{"text":"private key file %s"}}' "$sep" "$f"
    sep=","
  done
  printf ']}]}\n'
} > "$report"
[ -z "$findings" ]
