#!/usr/bin/env python3
"""Async frame sizes: the context size of every async function whose symbol matches PATTERN, largest first.

    Benchmarks/tools/async-frame-sizes.py .build/release/aio "StreamServer|StreamReader" [COUNT]

Each async function has an async function pointer (symbol suffix Tu): a relative offset and the size of
the context (frame) the task allocator gives it. A suspended task keeps the frames of its whole call
chain, in slabs of about 1,000 bytes: what an idle connection costs."""
import subprocess,re,sys
B=sys.argv[1]; pat=sys.argv[2]
out=subprocess.run(["readelf","-S","-W",B],capture_output=True,text=True).stdout
secs=[(int(m.group(2),16),int(m.group(3),16),int(m.group(4),16)) for m in re.finditer(r"\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)", out)]
data=open(B,'rb').read()
def read(addr,n):
    for a,o,sz in secs:
        if a<=addr<a+sz: return data[o+addr-a:o+addr-a+n]
rows=[]
for line in subprocess.run(["nm",B],capture_output=True,text=True).stdout.splitlines():
    p=line.split()
    if len(p)!=3 or not p[2].endswith("Tu") or not re.search(pat,p[2]): continue
    b=read(int(p[0],16),8)
    if b: rows.append((int.from_bytes(b[4:8],'little'),p[2]))
names=subprocess.run(["swift","demangle","--simplified"],input="\n".join(r[1] for r in rows),capture_output=True,text=True).stdout.splitlines()
for (size,_),n in sorted(zip(rows,names), key=lambda x:-x[0][0])[:int(sys.argv[3]) if len(sys.argv)>3 else 20]:
    print(size, n[:150])
