#!/usr/bin/env bash
# Builds every C test in ffi/tests against libconsensio.a and libconsensio.so
# with gcc -std=c11 -Wall -Wextra -Werror, runs each plain and under valgrind
# (0 errors, 0 leaks), then rebuilds with -fsanitize=address,undefined and
# runs again. Also checks that the header compiles as C++, and builds and
# runs every example in ffi/examples under valgrind, and every ```c block
# of docs/*.md the same way.
set -euo pipefail
cd "$(dirname "$0")/../.."

# Cargo's target directory: CARGO_TARGET_DIR when set (relative to the
# repository root, as cargo reads it here), else target/.
target=${CARGO_TARGET_DIR:-target}
lib=$target/debug
include=ffi/include
out=$target/ffi-tests
mkdir -p "$out"
cflags=(-std=c11 -Wall -Wextra -Werror -pedantic -g -pthread -I "$include")
native=(-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc)

cargo build -q -p consensio-ffi --locked

g++ -x c++ -std=c++11 -Wall -Wextra -Werror -fsyntax-only "$include/consensio.h"

for src in ffi/tests/test_*.c; do
    name=$(basename "$src" .c)
    gcc "${cflags[@]}" "$src" "$lib/libconsensio.a" "${native[@]}" -o "$out/$name-static"
    gcc "${cflags[@]}" "$src" -L "$lib" -lconsensio -Wl,-rpath,"$(cd "$lib" && pwd)" -o "$out/$name-shared"
    gcc "${cflags[@]}" -fsanitize=address,undefined -fno-omit-frame-pointer \
        "$src" "$lib/libconsensio.a" "${native[@]}" -o "$out/$name-asan"
    for variant in static shared; do
        "$out/$name-$variant"
        valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible \
            "$out/$name-$variant" >/dev/null
    done
    UBSAN_OPTIONS=halt_on_error=1 "$out/$name-asan" >/dev/null
done
for example in ffi/examples/*.c; do
    name=$(basename "$example" .c)
    gcc "${cflags[@]}" "$example" "$lib/libconsensio.a" "${native[@]}" -o "$out/$name"
    valgrind -q --error-exitcode=1 --leak-check=full "$out/$name" >/dev/null
done
# Every ```c block of the user pages (docs/*.md) is a complete program:
# extract each to docs-<family>-<n>.c, build it like the tests, and run it
# under valgrind like the examples.
rm -f "$out"/docs-*
for page in docs/*.md; do
    family=$(basename "$page" .md)
    awk -v out="$out/docs-$family" '
        /^```c$/ { n++; file = out "-" n ".c"; printf "" > file; inside = 1; next }
        /^```/ && inside { inside = 0; close(file); next }
        inside { print > file }
    ' "$page"
done
for src in "$out"/docs-*.c; do
    [ -e "$src" ] || continue
    name=$(basename "$src" .c)
    gcc "${cflags[@]}" "$src" "$lib/libconsensio.a" "${native[@]}" -o "$out/$name"
    valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible \
        "$out/$name" >/dev/null
done
echo "C tests: all passed (static, shared, valgrind, ASan+UBSan)"
