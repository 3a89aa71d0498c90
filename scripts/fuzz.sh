#!/usr/bin/env bash
# Fuzzes every decoder, the label loader, the weights loader and the manifest parser for a bounded time (default 60 s per target;
# FUZZ_SECONDS to change; FUZZ_TARGETS="decode_dicom load_labels" for some), seeded with the committed good and bad files (the ZIP archives among them). Needs a nightly
# toolchain (installed if missing) and cargo-fuzz; not part of CI.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT/fuzz"
SECONDS_PER_TARGET="${FUZZ_SECONDS:-60}"
rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || install_tool "" cargo-fuzz --locked
export CARGO_TARGET_DIR="$CARGO_TARGET_DIR/fuzz"
# Every target runs even when an earlier one finds something; the exit status says whether any
# did (the crashing inputs are under fuzz/artifacts/TARGET/).
failed=()
# Writes into CORPUS each stream of FILES that starts with the bytes START (hex) and ends at the
# next FF D9 (EOI in JPEG and JPEG-LS, EOC in JPEG 2000), or at the file's end.
seed_streams() {
  python3 - "$@" <<'PY'
import pathlib, sys
out, start_bytes = pathlib.Path(sys.argv[1]), bytes.fromhex(sys.argv[2])
for name in sys.argv[3:]:
    data = pathlib.Path(name).read_bytes()
    start, k = data.find(start_bytes), 0
    while start >= 0:
        end = data.find(b"\xff\xd9", start)
        end = len(data) if end < 0 else end + 2
        (out / f"stream{k}-{pathlib.Path(name).name}").write_bytes(data[start:end])
        start, k = data.find(start_bytes, end), k + 1
PY
}
for target in ${FUZZ_TARGETS:-decode_any decode_dicom decode_jpeg_ls decode_jpeg12 decode_jpeg2000 decode_nifti decode_raster load_weights load_manifest load_labels unpack}; do
  corpus="corpus/$target"
  mkdir -p "$corpus"
  find "$ROOT"/crates/scarseg-imaging/tests/corpus/bad -type f ! -name 'jpeg_ls_overflow.dcm' \
    -exec cp -n {} "$corpus"/ \;
  # The JPEG 2000 files (the image and the segmentations) are seeds since their syntax is decoded
  # by hayro-jpeg2000; openjp2 0.6.1, which still decodes HTJ2K and Part 2 natively, frees code
  # blocks it never allocated with std::alloc::dealloc on a null pointer, which nightly's UB
  # checks in fuzz builds abort on (reported in README.md, "Hostile files"): a mutation into those
  # syntaxes can stop a run there.
  # Not the JPEG-LS files (decode_jpeg_ls gets their streams, below): pure_jpegls 2.0 overflows its i32 context
  # statistics on a corrupt scan, which the overflow checks of fuzz builds abort on again and
  # again; release builds wrap and then fail the decoder's own check (tests/corpus/bad/
  # jpeg_ls_overflow.dcm, left out of the seeds too). decode_jpeg_ls runs as release builds do (-O: no overflow checks) to
  # find what the page would meet beyond that.
  find "$ROOT"/crates/scarseg-imaging/tests/corpus/good -type f \
    ! -name '*jpeg_ls*' ! -name '*_jls.dcm' -exec cp -n {} "$corpus"/ \;
  if [[ $target == decode_dicom ]]; then
    # This target writes the preamble and "DICM" itself, so its seeds are DICOM files without
    # them; whole files would put a second preamble inside the data set, and every seed would
    # stop at the first element.
    for f in "$ROOT"/crates/scarseg-imaging/tests/corpus/{good,bad}/*.dcm; do
      case $(basename "$f") in
        *jpeg_ls* | *_jls.dcm) continue ;;
      esac
      if [[ $(tail -c +129 "$f" | head -c 4) == DICM ]]; then
        tail -c +133 "$f" > "$corpus/body-$(basename "$f")"
      fi
    done
  fi
  # The codec targets take a bare stream: the committed files' streams are their seeds.
  case $target in
    # JPEG-LS: SOI and its frame header (SOF55) to EOI.
    decode_jpeg_ls) seed_streams "$corpus" ffd8fff7 "$ROOT"/crates/scarseg-imaging/tests/corpus/good/*{jpeg_ls,_jls}*.dcm ;;
    # JPEG 2000: SOC and SIZ to EOC.
    decode_jpeg2000) seed_streams "$corpus" ff4fff51 "$ROOT"/crates/scarseg-imaging/tests/corpus/good/{jpeg2000,*_j2k}*.dcm ;;
    # 12-bit lossy JPEG: SOI to EOI.
    decode_jpeg12) seed_streams "$corpus" ffd8ff "$ROOT"/crates/scarseg-imaging/tests/corpus/good/jpeg_extended_{12bit,dcmtk}.dcm ;;
  esac
  echo "== $target for ${SECONDS_PER_TARGET}s"
  release=()
  [[ $target == decode_jpeg_ls ]] && release=(-O)
  cargo +nightly fuzz run "${release[@]}" "$target" "$corpus" -- -max_total_time="$SECONDS_PER_TARGET" \
    -rss_limit_mb=2048 || failed+=("$target")
done
if ((${#failed[@]})); then
  echo "findings in: ${failed[*]} (see fuzz/artifacts/)" >&2
  exit 1
fi
echo "no findings in ${SECONDS_PER_TARGET}s per target"
