// hf_ref.js - Hugging Face tokenizers (the Rust library, through the npm
// package @anush008/tokenizers) as the reference for temper's tokenizer tests
// and benchmark.
//
//   node hf_ref.js encode < {"tokenizer": PATH, "texts": [...],
//                            "add_special": bool, "skip_special": bool}
//       -> [{"ids", "tokens", "offsets" (character offsets), "decoded"}]
//   node hf_ref.js classes < {"from": CP, "to": CP}
//       -> one letter per code point in [from, to): the class the GPT-2
//          pattern gives it (L letter, N number, O other, W White_Space,
//          - surrogate), read from how the ByteLevel pre-tokenizer splits
//          "1" + c + c + "!"
//   node hf_ref.js bench TOKENIZER TEXTFILE IDSOUT
//       -> encodes the file whole and in 4 KB chunks, prints MB/s as JSON,
//          writes the ids (whole text) as int32 little-endian to IDSOUT
'use strict';
const fs = require('fs');
const hf = require('@anush008/tokenizers');

function readStdin() { return JSON.parse(fs.readFileSync(0, 'utf8')); }

async function encode() {
  const req = readStdin();
  const tok = hf.Tokenizer.fromFile(req.tokenizer);
  const out = [];
  for (const text of req.texts) {
    const e = await tok.encode(text, null, {addSpecialTokens: !!req.add_special});
    const ids = e.getIds();
    out.push({ids, tokens: e.getTokens(), offsets: e.getOffsets(),
              decoded: await tok.decode(ids, !!req.skip_special)});
  }
  process.stdout.write(JSON.stringify(out));
}

function classes() {
  const req = readStdin();
  const pre = hf.byteLevelPreTokenizer(false, true);
  const letters = [];
  for (let cp = req.from; cp < req.to; cp++) {
    if (cp >= 0xD800 && cp <= 0xDFFF) { letters.push('-'); continue; }
    const c = String.fromCodePoint(cp);
    const p = pre.preTokenizeString('1' + c + c + '!').map(x => x[0]);
    let k;
    if (p.length === 2 && p[1] === '!') k = 'N';              // [1cc][!]
    else if (p.length === 2) k = 'O';                         // [1][cc!]
    else if (p.length === 3 && p[2] === '!') k = cp === 0x20 ? 'W' : 'L'; // [1][cc][!] / [1][ ][ !]
    else if (p.length === 3) k = 'W';
    else k = 'W';                                             // [1][c][c][!]
    letters.push(k);
  }
  process.stdout.write(letters.join(''));
}

async function bench(tokPath, textPath, idsOut) {
  const tok = hf.Tokenizer.fromFile(tokPath);
  const text = fs.readFileSync(textPath, 'utf8');
  const bytes = Buffer.byteLength(text, 'utf8');
  await tok.encode('warm up', null, {addSpecialTokens: false});
  let t0 = process.hrtime.bigint();
  const e = await tok.encode(text, null, {addSpecialTokens: false});
  const whole = Number(process.hrtime.bigint() - t0) / 1e9;
  const ids = e.getIds();
  fs.writeFileSync(idsOut, Buffer.from(Int32Array.from(ids).buffer));
  // 4 KB chunks cut after a newline, encoded one by one
  const chunks = [];
  for (let i = 0; i < text.length;) {
    let j = Math.min(text.length, i + 4096);
    const nl = text.indexOf('\n', j);
    j = nl < 0 ? text.length : nl + 1;
    chunks.push(text.slice(i, j));
    i = j;
  }
  t0 = process.hrtime.bigint();
  let n = 0;
  for (const c of chunks) n += (await tok.encode(c, null, {addSpecialTokens: false})).getLength();
  const chunked = Number(process.hrtime.bigint() - t0) / 1e9;
  t0 = process.hrtime.bigint();
  const batch = await tok.encodeBatch(chunks, {addSpecialTokens: false});
  const batched = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(JSON.stringify({
    bytes, tokens: ids.length,
    whole_mb_s: bytes / whole / 1e6, chunked_mb_s: bytes / chunked / 1e6,
    batch_mb_s: bytes / batched / 1e6, batch_tokens: batch.reduce((a, x) => a + x.getLength(), 0),
  }) + '\n');
}

const mode = process.argv[2];
if (mode === 'encode') encode();
else if (mode === 'classes') classes();
else if (mode === 'bench') bench(process.argv[3], process.argv[4], process.argv[5]);
else { process.stderr.write('usage: node hf_ref.js encode|classes|bench ...\n'); process.exit(2); }
