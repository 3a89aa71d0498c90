// dcmjs's Cornerstone segmentation adapter (OHIF 2's DICOM SEG reading and writing, from which
// OHIF 3's Cornerstone3D adapters derive) and Cornerstone3D's SEG frame decoder, on ScarSeg's
// side of the exchange; tests/dicom_seg_check.py drives them and compares.
//
//   node seg_check.mjs read SERIES_DIR SEG_FILE OUT_JSON
//     reads SEG_FILE onto the series as OHIF 2 does (generateToolState) and writes, for each source
//     image's SOP Instance UID, its pixels (base64, one byte each, row by row) with bit 0 set
//     where segment 1 is and bit 1 where segment 2 is.
//   node seg_check.mjs decode3 SEG_FILE OUT_JSON
//     decodes SEG_FILE's frames with Cornerstone3D's SEG frame decoder (OHIF 3's) and writes
//     the same as `read`, each frame laid on the image its Source Image Sequence names.
//   node seg_check.mjs write SERIES_DIR LABELS_JSON OUT_DIR
//     takes, for each SOP Instance UID, one byte a pixel (base64; 1 myocardium, 2 scar) and
//     writes OUT_DIR/rle.dcm (dcmjs's default: FRACTIONAL, RLE Lossless) and
//     OUT_DIR/bitpacked.dcm (BINARY) as OHIF 2 exports a segmentation drawn on the series: two
//     segments labelled "Myocardium" and "Scar", coded only as tissue.
import fs from "node:fs";
import path from "node:path";
import dcmjs from "dcmjs";

const { DicomMessage, DicomMetaDictionary } = dcmjs.data;
const Segmentation = dcmjs.adapters.Cornerstone.Segmentation;

// Quiet the adapter's informational logging; warnings stay.
dcmjs.log.setLevel("warn");

// A file's bytes as the ArrayBuffer dcmjs reads.
function fileBuffer(file) {
  const bytes = fs.readFileSync(file);
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
}

// A DICOM file's data set as dcmjs names it, with its file meta as `_meta`: a fresh object each
// call, as the normalizer may change what it is given.
function naturalized(buffer) {
  const dicom = DicomMessage.readFile(buffer);
  const dataset = DicomMetaDictionary.naturalizeDataset(dicom.dict);
  dataset._meta = DicomMetaDictionary.namifyDataset(dicom.meta);
  return dataset;
}

function readSeries(dir) {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".dcm"))
    .sort()
    .map((f) => {
      const buffer = fileBuffer(path.join(dir, f));
      return { imageId: `file:${f}`, buffer, dataset: naturalized(buffer) };
    });
}

// The metadata Cornerstone's loaders give the adapter for each image.
function metadataProvider(images) {
  const byId = new Map(images.map((image) => [image.imageId, image.dataset]));
  const numbers = (v) => (Array.isArray(v) ? v : [v]).map(Number);
  return {
    get(module, imageId) {
      const ds = byId.get(imageId);
      if (!ds) return undefined;
      const iop = numbers(ds.ImageOrientationPatient);
      switch (module) {
        case "imagePlaneModule":
          return {
            rowCosines: iop.slice(0, 3),
            columnCosines: iop.slice(3, 6),
            imagePositionPatient: numbers(ds.ImagePositionPatient),
            rows: ds.Rows,
            columns: ds.Columns,
            frameOfReferenceUID: ds.FrameOfReferenceUID,
          };
        case "generalSeriesModule":
          return { seriesInstanceUID: ds.SeriesInstanceUID, modality: ds.Modality };
        case "imagePixelModule":
          return { rows: ds.Rows, columns: ds.Columns };
        case "sopCommonModule":
          return { sopInstanceUID: ds.SOPInstanceUID, sopClassUID: ds.SOPClassUID };
        case "instance":
          return ds;
        default:
          return undefined;
      }
    },
  };
}

function read(seriesDir, segFile, outJson) {
  const images = readSeries(seriesDir);
  const imageIds = images.map((image) => image.imageId);
  const state = Segmentation.generateToolState(
    imageIds,
    fileBuffer(segFile),
    metadataProvider(images),
  );
  if (!state) throw new Error(`${segFile}: the adapter read nothing`);
  const out = {};
  images.forEach((image, k) => {
    const plane = image.dataset.Rows * image.dataset.Columns;
    const pixels = new Uint8Array(plane);
    // Overlapping segments come back as several label maps, each pixel one segment's number.
    for (const labelmap of state.labelmapBufferArray) {
      const view = new Uint16Array(labelmap, 2 * plane * k, plane);
      view.forEach((segment, i) => {
        if (segment === 1) pixels[i] |= 1;
        if (segment === 2) pixels[i] |= 2;
        if (segment > 2) throw new Error(`${segFile}: segment ${segment}`);
      });
    }
    out[image.dataset.SOPInstanceUID] = Buffer.from(pixels).toString("base64");
  });
  fs.writeFileSync(outJson, JSON.stringify(out));
}

async function write(seriesDir, labelsJson, outDir) {
  const images = readSeries(seriesDir);
  const labels = JSON.parse(fs.readFileSync(labelsJson, "utf8"));
  const tissue = { CodeValue: "85756007", CodingSchemeDesignator: "SCT", CodeMeaning: "Tissue" };
  const segment = (number, label, lab) => ({
    SegmentedPropertyCategoryCodeSequence: tissue,
    SegmentNumber: number,
    SegmentLabel: label,
    SegmentAlgorithmType: "MANUAL",
    RecommendedDisplayCIELabValue: lab,
    SegmentedPropertyTypeCodeSequence: tissue,
  });
  // The adapter numbers the label maps by the frames of the series as dcmjs's normalizer stacks
  // them (sorted along the slice normal), as OHIF's viewport orders its images; the label
  // maps follow that order, each image found by its position.
  const stacked = dcmjs.normalizers.Normalizer.normalizeToDataset(
    images.map((image) => naturalized(image.buffer)),
  );
  const key = (position) => position.map((v) => Number(v).toFixed(3)).join(",");
  const byPosition = new Map(
    images.map((image) => [key(image.dataset.ImagePositionPatient), image]),
  );
  const ordered = stacked.PerFrameFunctionalGroupsSequence.map((frame) => {
    const image = byPosition.get(key(frame.PlanePositionSequence.ImagePositionPatient));
    if (!image) throw new Error(`${seriesDir}: no image at a stacked frame's position`);
    return image;
  });
  const labelmaps2D = ordered.map((image) => {
    const pixels = Buffer.from(labels[image.dataset.SOPInstanceUID], "base64");
    const pixelData = Uint16Array.from(pixels);
    return { pixelData, segmentsOnLabelmap: [...new Set([0, ...pixelData])] };
  });
  const labelmap3D = {
    labelmaps2D,
    metadata: [
      undefined,
      segment(1, "Myocardium", [60000, 32768, 32768]),
      segment(2, "Scar", [50000, 50000, 50000]),
    ],
  };
  const cornerstoneImages = ordered.map((image) => ({
    imageId: image.imageId,
    data: { byteArray: { buffer: image.buffer } },
  }));
  fs.mkdirSync(outDir, { recursive: true });
  for (const [name, rleEncode] of [["rle.dcm", true], ["bitpacked.dcm", false]]) {
    const blob = Segmentation.generateSegmentation(cornerstoneImages, labelmap3D, { rleEncode });
    fs.writeFileSync(path.join(outDir, name), Buffer.from(await blob.arrayBuffer()));
  }
}

async function decode3(segFile, outJson) {
  // Not among the package's exports: loaded by path, from the pinned version beside this file.
  const { decodeSegFramesFromMultiframe } = await import(
    new URL(
      "./node_modules/@cornerstonejs/adapters/dist/esm/adapters/Cornerstone3D/encodePixelData.js",
      import.meta.url,
    )
  );
  const multiframe = dcmjs.normalizers.Normalizer.normalizeToDataset([
    naturalized(fileBuffer(segFile)),
  ]);
  const frames = decodeSegFramesFromMultiframe(multiframe);
  const first = (v) => (Array.isArray(v) ? v[0] : v);
  const out = {};
  multiframe.PerFrameFunctionalGroupsSequence.forEach((group, f) => {
    const source = first(first(group.DerivationImageSequence).SourceImageSequence);
    const segment = first(group.SegmentIdentificationSequence).ReferencedSegmentNumber;
    const uid = source.ReferencedSOPInstanceUID;
    out[uid] ??= new Uint8Array(frames[f].length);
    frames[f].forEach((v, i) => {
      if (v) out[uid][i] |= segment === 1 ? 1 : 2;
    });
  });
  for (const uid of Object.keys(out)) out[uid] = Buffer.from(out[uid]).toString("base64");
  fs.writeFileSync(outJson, JSON.stringify(out));
}

const [command, ...args] = process.argv.slice(2);
if (command === "read") read(...args);
else if (command === "decode3") await decode3(...args);
else if (command === "write") await write(...args);
else throw new Error(`usage: node seg_check.mjs read|decode3|write ...`);
