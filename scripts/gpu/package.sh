#!/usr/bin/env bash
# Builds a `cohort` that runs on a GPU machine without a Swift toolchain: the Swift runtime
# linked in (--static-swift-stdlib), its bundled data beside it, and the shared libraries it
# needs that a CUDA image may lack (OpenBLAS and its Fortran runtime) in gpu-bundle/lib.
# CUDA itself is not carried: `cohort` loads the machine's driver, NVRTC and cuBLAS at run time.
# The binary and the libraries travel xz-compressed (gpu-bundle/binaries.tar.xz); scripts/gpu/check.sh
# unpacks them.
# Then: copy the repository with gpu-bundle/ to the GPU machine and run scripts/gpu/check.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
# FoundationNetworking links libcurl statically only when its development files are there.
./scripts/install-deps.sh libopenblas-dev pkg-config libcurl4-openssl-dev
swift build -c release --static-swift-stdlib --product cohort
build=$(swift build -c release --show-bin-path)
rm -rf gpu-bundle
mkdir -p gpu-bundle/lib
cp "$build/cohort" gpu-bundle/cohort
strip gpu-bundle/cohort
cp -r "$build"/Cohort_cohort.resources gpu-bundle/
# Every shared library outside glibc's own, followed through symlinks to the real file under its soname.
ldd gpu-bundle/cohort | awk '/=> \// { print $1, $3 }' | while read -r soname path; do
    case "$soname" in
        libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|ld-linux*|libgcc_s.so*|libstdc++.so*) ;;
        *) cp -L "$path" "gpu-bundle/lib/$soname" ;;
    esac
done
# ~70 MB stripped and 35 MB of OpenBLAS; xz brings the two to ~30 MB, within what a GPU
# machine's lease carries, and Python's lzma and tarfile unpack them wherever python3 is.
python3 -c 'import tarfile, sys
with tarfile.open(sys.argv[1], "w:xz") as archive:
    archive.add("gpu-bundle/cohort", arcname="cohort")
    archive.add("gpu-bundle/lib", arcname="lib")' gpu-bundle/binaries.tar.xz
rm -r gpu-bundle/cohort gpu-bundle/lib
echo "gpu-bundle: $(du -sh gpu-bundle | cut -f1)"
