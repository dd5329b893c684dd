#!/usr/bin/env bash
# Writes the seed corpora of the media and config fuzz targets from real
# samples: the repository's own config and board files, and H.264, FLV, JPEG
# and PNG made by Debian's ffmpeg (libx264, its mjpeg and png
# encoders). Small on purpose (libFuzzer mutates the seeds; a few KB each).
# The RTMP targets' seeds come from captures and from
# `cargo run -p livepush-core --example seed_fuzz_corpus -- fuzz/corpus`.
# Usage: bash fuzz/make_corpus.sh   (re-run when the samples should change)
set -euo pipefail
cd "$(dirname "$0")"
c=corpus
mkdir -p $c/config $c/h264 $c/flv $c/jpeg $c/still
ff() { ffmpeg -nostdin -v error -y "$@"; }

# configuration and board profiles as shipped
cp ../config/livepush.example.toml $c/config/example.toml
for b in ../boards/*.toml; do cp "$b" "$c/config/board-$(basename "$b")"; done

# H.264 as encoders emit it (Annex B): baseline and high, with and without
# B-frames, an odd size (cropping in the SPS), 4:2:2 high profile
src="testsrc2=size=64x48:rate=10"
ff -f lavfi -i "$src" -frames:v 3 -c:v libx264 -profile:v baseline -f h264 $c/h264/x264-baseline.h264
ff -f lavfi -i "$src" -frames:v 4 -c:v libx264 -profile:v high -bf 2 -f h264 $c/h264/x264-high-bframes.h264
ff -f lavfi -i "testsrc2=size=66x38:rate=10" -frames:v 2 -c:v libx264 -f h264 $c/h264/x264-cropped.h264
ff -f lavfi -i "$src" -frames:v 2 -pix_fmt yuv422p -c:v libx264 -profile:v high422 -f h264 $c/h264/x264-high422.h264
ff -f lavfi -i "$src" -frames:v 2 -c:v libx264 -x264-params cqm=jvt -f h264 $c/h264/x264-scaling-matrix.h264

# FLV as a publisher sends it and the receiver records it (AVC + AAC)
ff -f lavfi -i "$src" -f lavfi -i "sine=frequency=440:sample_rate=44100" -t 0.3 \
  -c:v libx264 -profile:v baseline -c:a aac -b:a 32k -f flv $c/flv/avc-aac.flv
ff -f lavfi -i "$src" -t 0.3 -c:v libx264 -bf 2 -f flv $c/flv/avc-bframes.flv
ff -f lavfi -i "sine=frequency=440:sample_rate=44100" -t 0.2 -c:a aac -b:a 32k -f flv $c/flv/aac-only.flv

# camera MJPEG frames (4:2:2 as UVC cameras send, 4:2:0, grey) and the
# waiting image as JPEG and PNG (RGB, RGBA, grey, palette, 16-bit)
ff -f lavfi -i "testsrc2=size=32x24" -frames:v 1 -pix_fmt yuvj422p -f mjpeg $c/jpeg/yuv422.jpg
ff -f lavfi -i "testsrc2=size=32x24" -frames:v 1 -pix_fmt yuvj420p -f mjpeg $c/jpeg/yuv420.jpg
ff -f lavfi -i "testsrc2=size=32x24" -frames:v 1 -pix_fmt yuvj444p -f mjpeg $c/jpeg/yuv444.jpg
ff -f lavfi -i "testsrc2=size=32x24" -frames:v 1 -pix_fmt gray -f mjpeg $c/jpeg/gray.jpg
ff -f lavfi -i "testsrc2=size=40x30" -frames:v 1 -pix_fmt yuvj422p -q:v 2 -huffman optimal -f mjpeg $c/jpeg/huffman-optimal.jpg
head -c 300 $c/jpeg/yuv422.jpg > $c/jpeg/truncated.jpg
cp $c/jpeg/yuv420.jpg $c/still/photo.jpg
for fmt in rgb24 rgba gray pal8 rgb48be ya8; do
  ff -f lavfi -i "testsrc2=size=24x16" -frames:v 1 -pix_fmt $fmt -f image2 -c:v png $c/still/$fmt.png
done
ls -l $c/config $c/h264 $c/flv $c/jpeg $c/still | awk '{print $5, $9}'
