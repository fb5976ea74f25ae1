#!/bin/bash
# Build a local container image holding this build of runnable and its
# plugins, for the local-container tests (t_container.sh):
#   a Debian minbase root filesystem made with debootstrap (kept between
#   runs in $RN_ROOTFS_CACHE), plus `make install` of the build tree (done
#   by `make check` before the tests, see tests/cli/container.am), plus
#   the shared libraries they need, copied from this (Debian 12) host,
#   imported with `podman import`.  No registry is involved.
#
#   container_image.sh BUILD_DIR IMAGE_NAME
# Exit 0 with the image present, 1 with the reason on stderr.
set -eu
build=$1
image=$2
cache=${RN_ROOTFS_CACHE:-/var/tmp/runnable-minbase-bookworm}
work=$(mktemp -d "${TMPDIR:-/tmp}/rn-image-XXXXXX")
trap 'rm -rf "$work"' EXIT

if [ ! -x "$cache/bin/sh" ]; then
    command -v debootstrap >/dev/null || { echo "debootstrap is not installed" >&2; exit 1; }
    rm -rf "$cache.tmp"
    debootstrap --variant=minbase bookworm "$cache.tmp" http://deb.debian.org/debian \
        >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
    rm -rf "$cache"
    mv "$cache.tmp" "$cache"
fi

root=$work/root
cp -a "$cache" "$root"
# `make check` installs the build into tests/cli/stage before any test
# starts (tests/cli/container.am: installing relinks the plugins in the
# build tree, which tests running meanwhile would find missing); by hand,
# install here.
if [ -f "$build/tests/cli/stage.stamp" ]; then
    mkdir -p "$work/stage"
    cp -a "$build/tests/cli/stage/." "$work/stage/"
else
    make -s -C "$build" install DESTDIR="$work/stage" >"$work/install.log" 2>&1 ||
        { tail -20 "$work/install.log" >&2; exit 1; }
fi
cp -a "$work/stage/." "$root/"

# The libraries the program and every plugin need, from this host.
find "$work/stage" -type f \( -name '*.so*' -o -perm -u+x \) | while read -r f; do
    ldd "$f" 2>/dev/null | awk '/=> \// {print $3} /^\t\/lib/ {print $1}'
done | sort -u | while read -r lib; do
    [ -e "$root$lib" ] || cp -L --parents "$lib" "$root/"
done
libdir=$(find "$work/stage" -name 'librunnable.so*' -printf '%h\n' | head -n 1)
libdir=${libdir#"$work/stage"}
ldconfig -r "$root" "$libdir" 2>/dev/null || true
tar -C "$root" -c . | podman import --change "ENV LD_LIBRARY_PATH=$libdir" \
    --change "ENV PATH=${libdir%/lib}/bin:/usr/local/bin:/usr/bin:/bin" - "$image" \
    >"$work/import.log" 2>&1 || { tail -20 "$work/import.log" >&2; exit 1; }
