// The viewer's frame in the browser. The kernel sends a full frame, then each new frame as a patch:
// the pixels that changed (gaps between their positions, and their RGBA values; zlib-compressed).
// Messages are applied in the order sent — every one of them, none dropped — to a pixel buffer,
// which is painted onto the canvas once per animation frame. What the canvas shows is therefore
// always exactly the last frame received, whatever the rate.

async function inflate(buffer) {
  const stream = new Blob([buffer]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function render({ model, el }) {
  const canvas = document.createElement("canvas");
  canvas.className = "relunet-frame";
  const context = canvas.getContext("2d", { alpha: false });
  let pixels = null; // ImageData of the frame received last; null until a full frame arrives
  let applying = Promise.resolve();
  let scheduled = false;
  let shown = 0;

  const layout = (width, height) => {
    canvas.width = width;
    canvas.height = height;
    canvas.style.width = `${width}px`;
    canvas.style.maxWidth = "100%";
    canvas.style.height = "auto";
  };
  layout(model.get("width"), model.get("height"));
  el.appendChild(canvas);

  const paint = () => {
    scheduled = false;
    context.putImageData(pixels, 0, 0);
    shown += 1;
    canvas.dataset.shown = String(shown);
    canvas.dispatchEvent(new CustomEvent("relunet-frame", { bubbles: true, detail: shown }));
  };
  const apply = async (message, buffers) => {
    if (message.kind === "full") {
      if (canvas.width !== message.width || canvas.height !== message.height) layout(message.width, message.height);
      pixels = new ImageData(new Uint8ClampedArray(await inflate(buffers[0])), message.width, message.height);
    } else if (message.kind === "patch") {
      if (pixels === null || message.serial !== pixels.serial + 1) return; // not based on the frame held
      const gaps = new Uint32Array((await inflate(buffers[0])).buffer);
      const values = new Uint32Array((await inflate(buffers[1])).buffer);
      const target = new Uint32Array(pixels.data.buffer);
      let position = 0;
      for (let k = 0; k < gaps.length; k++) {
        position += gaps[k];
        target[position] = values[k];
      }
    } else {
      return;
    }
    pixels.serial = message.serial;
    if (!scheduled) {
      scheduled = true;
      requestAnimationFrame(paint);
    }
  };
  const receive = (message, buffers) => {
    applying = applying.then(() => apply(message, buffers)).catch((error) => console.error("relunet frame:", error));
  };
  model.on("msg:custom", receive);
  // A new view starts from a full frame: ask for one, and ask again every second until it has one
  // (a request sent while the page is still connecting can be lost; the kernel also sends a full frame
  // every few seconds during Play).
  const ask = () => {
    if (pixels === null) model.send({ request: "full" });
  };
  ask();
  const asking = setInterval(() => (pixels === null ? ask() : clearInterval(asking)), 1000);
  return () => {
    clearInterval(asking);
    model.off("msg:custom", receive);
  };
}

export default { render };
