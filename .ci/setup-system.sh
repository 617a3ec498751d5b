#!/usr/bin/env bash
# Installs the system packages neural-style-webgpu needs on a Debian bookworm machine
# without a GPU: a Vulkan loader + Mesa's lavapipe (software Vulkan, from bookworm-backports,
# because Dawn rejects bookworm's 22.x lavapipe) for Node, and Chromium (WebGPU through its
# bundled SwiftShader) for the browser tests. Run as root (or through sudo). Idempotent.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
if ! grep -rqs "${codename}-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "setup-system: adding ${codename}-backports to apt sources"
  echo "deb http://deb.debian.org/debian ${codename}-backports main" | $SUDO tee /etc/apt/sources.list.d/backports.list >/dev/null
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q -t "${codename}-backports" libvulkan1 mesa-vulkan-drivers
$SUDO apt-get install -y -q chromium ca-certificates
echo "setup-system: done (Vulkan ICDs: $(ls /usr/share/vulkan/icd.d/ 2>/dev/null | tr '\n' ' '))"
