#!/bin/bash
# tests/hil/smoke.sh: end-to-end check of the HIL guest (after setup.sh ARCH).
# In the guest: lists the V4L2/ALSA nodes, sets vivid to solid red and captures
# 640x360 YUYV frames to /tmp (one is copied to /share), and plays a 1 kHz tone
# into hw:Loopback,0,0 while arecord captures hw:Loopback,1,0 to /share.
# On the host: the frame must be uniform Y=81 U=90 V=239 and the tone must come
# back bit-exact.  Usage: tests/hil/smoke.sh [amd64|arm64]   (exit 0 = pass)
set -euo pipefail
ARCH=${1:-amd64}
HIL=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT

# 1 s of 1 kHz (left) / 440 Hz (right), S16_LE 48 kHz, then 0.2 s of silence
# (the loopback loses the last few ms when aplay drains)
"$PY" - "$D/tone.wav" <<'EOF'
import math, struct, sys, wave
w = wave.open(sys.argv[1], "wb"); w.setnchannels(2); w.setsampwidth(2); w.setframerate(48000)
fr = [(int(8000 * math.sin(2 * math.pi * 1000 * i / 48000)), int(8000 * math.sin(2 * math.pi * 440 * i / 48000)))
      for i in range(48000)] + [(0, 0)] * 9600
w.writeframes(b"".join(struct.pack("<hh", l, r) for l, r in fr)); w.close()
EOF

"$HIL/run-guest.sh" -a "$ARCH" -t 180 "$D" '
set -e
ls /dev/video* /dev/snd
v4l2-ctl -d /dev/video0 --all | head
v4l2-ctl -d0 -c osd_text_mode=2,test_pattern=7
v4l2-ctl -d0 -v width=640,height=360,pixelformat=YUYV
v4l2-ctl -d0 --stream-mmap --stream-count=4 --stream-to=/tmp/frames.yuv
dd if=/tmp/frames.yuv of=/share/frame.yuv bs=460800 skip=3 count=1
arecord -q -D hw:Loopback,1,0 -f S16_LE -r 48000 -c 2 -d 2 /share/cap.wav &
sleep 0.2
aplay -q -D hw:Loopback,0,0 tone.wav
wait $!
ls -l /share'

"$PY" - "$D" <<'EOF'
import math, struct, sys, wave
d = sys.argv[1]; ok = True
f = open(f"{d}/frame.yuv", "rb").read()
Y, U, V = f[0::2], f[1::4], f[3::4]
vals = (set(Y), set(U), set(V))
print(f"frame: {len(f)} bytes, Y={sorted(vals[0])} U={sorted(vals[1])} V={sorted(vals[2])}")
ok &= len(f) == 640 * 360 * 2 and vals == ({81}, {90}, {239})
ref = wave.open(f"{d}/tone.wav").readframes(10**9)
cap = wave.open(f"{d}/cap.wav"); sr = cap.getframerate(); cap = cap.readframes(10**9)
off = cap.find(ref[:4096]); n = 48000 * 4           # the 1 s tone itself must come back bit-exact
exact = off >= 0 and cap[off:off + n] == ref[:n]
s = struct.unpack(f"<{n // 2}h", cap[off:off + n]) if off >= 0 else (0,) * (n // 2)
def power(x, f0):                                     # Goertzel
    k = 2 * math.cos(2 * math.pi * f0 / sr); a = b = 0.0
    for v in x: a, b = v + k * a - b, a
    return (a * a + b * b - k * a * b) / len(x) ** 2
p = {f0: power(s[0::2], f0) for f0 in (440, 1000, 2000)}
print(f"audio: tone at {off / 4 / sr * 1000:.0f} ms into the capture, bit-exact={exact}, "
      f"left power " + " ".join(f"{f0}Hz={v:.3g}" for f0, v in p.items()))
ok &= exact and p[1000] > 100 * max(p[440], p[2000])
print("SMOKE", "PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
EOF
