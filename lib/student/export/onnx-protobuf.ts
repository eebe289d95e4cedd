/**
 * The few ONNX protobuf messages an exported graph needs (ModelProto, GraphProto, NodeProto, AttributeProto,
 * TensorProto, ValueInfoProto), written by hand from onnx.proto's field numbers so that zsd needs no protobuf
 * dependency. Only writing is implemented; onnxruntime is the reader that proves the bytes right (the tests).
 *
 * onnx.proto is proto2: repeated scalars are written unpacked, one tag per element. Tensors carry their values as
 * raw_data (little-endian), which every reader accepts for every type. Messages are kept as lists of byte chunks
 * and only joined once, so that a 200 MB weight tensor is never copied into intermediate buffers.
 */

/** TensorProto.DataType values used here. */
export const ONNX_DATA_TYPE = { float: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9 } as const;
export type OnnxDataType = keyof typeof ONNX_DATA_TYPE;

/** A tensor with its values as the bytes ONNX stores (raw_data). */
export interface OnnxTensor {
  name: string;
  dataType: OnnxDataType;
  dims: number[];
  /** little-endian values, dims' product of them */
  rawData: Uint8Array;
}

export type OnnxAttributeValue =
  | { kind: 'int'; value: number }
  | { kind: 'ints'; value: number[] }
  | { kind: 'float'; value: number }
  | { kind: 'tensor'; value: OnnxTensor }
  | { kind: 'graph'; value: OnnxGraph };

export interface OnnxNode {
  opType: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attributes?: Record<string, OnnxAttributeValue>;
}

/** A graph input or output: element type and shape, a dimension being a size or a symbolic name. */
export interface OnnxValueInfo {
  name: string;
  dataType: OnnxDataType;
  /** undefined: rank unknown */
  shape?: (number | string)[];
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

export interface OnnxModel {
  graph: OnnxGraph;
  opsetVersion: number;
  irVersion: number;
  producerName: string;
  producerVersion: string;
  docString?: string;
}

const WIRE_VARINT = 0;
const WIRE_FIXED32 = 5;
const WIRE_LENGTH_DELIMITED = 2;

/** A protobuf message under construction: a list of byte chunks and their total length. */
class MessageWriter {
  readonly chunks: Uint8Array[] = [];
  /** bytes in chunks (not counting scratch, which flushScratch moves into chunks) */
  length = 0;
  private scratch: number[] = [];

  private flushScratch(): void {
    if (this.scratch.length === 0) return;
    this.push(Uint8Array.from(this.scratch));
    this.scratch = [];
  }

  private push(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  private byte(value: number): void {
    this.scratch.push(value); // counted in length when flushed
  }

  /** An unsigned varint; negative int64 values as their 64-bit two's complement (10 bytes), as protobuf does. */
  private rawVarint(value: number | bigint): void {
    let remaining = BigInt.asUintN(64, BigInt(value));
    while (remaining >= 0x80n) {
      this.byte(Number(remaining & 0x7fn) | 0x80);
      remaining >>= 7n;
    }
    this.byte(Number(remaining));
  }

  private tag(field: number, wire: number): void {
    this.rawVarint((field << 3) | wire);
  }

  varint(field: number, value: number): void {
    if (!Number.isSafeInteger(value)) throw new RangeError(`protobuf field ${field}: ${value} is not an integer`);
    this.tag(field, WIRE_VARINT);
    this.rawVarint(value);
  }

  float(field: number, value: number): void {
    this.tag(field, WIRE_FIXED32);
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    for (const b of bytes) this.byte(b);
  }

  bytes(field: number, value: Uint8Array): void {
    this.tag(field, WIRE_LENGTH_DELIMITED);
    this.rawVarint(value.length);
    this.flushScratch();
    this.push(value);
  }

  string(field: number, value: string): void {
    this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, write: (writer: MessageWriter) => void): void {
    const child = new MessageWriter();
    write(child);
    child.flushScratch();
    this.tag(field, WIRE_LENGTH_DELIMITED);
    this.rawVarint(child.length);
    this.flushScratch();
    for (const chunk of child.chunks) this.push(chunk);
  }

  finish(): Uint8Array[] {
    this.flushScratch();
    return this.chunks;
  }
}

// Field numbers from onnx.proto.
function writeTensor(writer: MessageWriter, tensor: OnnxTensor): void {
  for (const size of tensor.dims) writer.varint(1, size); // dims
  writer.varint(2, ONNX_DATA_TYPE[tensor.dataType]); // data_type
  writer.string(8, tensor.name); // name
  writer.bytes(9, tensor.rawData); // raw_data
}

const ATTRIBUTE_TYPE = { float: 1, int: 2, tensor: 4, graph: 5, ints: 7 } as const;

function writeAttribute(writer: MessageWriter, name: string, attribute: OnnxAttributeValue): void {
  writer.string(1, name); // name
  switch (attribute.kind) {
    case 'float':
      writer.float(2, attribute.value); // f
      break;
    case 'int':
      writer.varint(3, attribute.value); // i
      break;
    case 'tensor':
      writer.message(5, (child) => writeTensor(child, attribute.value)); // t
      break;
    case 'graph':
      writer.message(6, (child) => writeGraph(child, attribute.value)); // g
      break;
    case 'ints':
      for (const value of attribute.value) writer.varint(8, value); // ints
      break;
  }
  writer.varint(20, ATTRIBUTE_TYPE[attribute.kind]); // type
}

function writeNode(writer: MessageWriter, node: OnnxNode): void {
  for (const input of node.inputs) writer.string(1, input);
  for (const output of node.outputs) writer.string(2, output);
  writer.string(3, node.name);
  writer.string(4, node.opType);
  for (const [name, attribute] of Object.entries(node.attributes ?? {})) writer.message(5, (child) => writeAttribute(child, name, attribute));
}

function writeValueInfo(writer: MessageWriter, info: OnnxValueInfo): void {
  writer.string(1, info.name);
  writer.message(2, (type) =>
    // TypeProto.tensor_type
    type.message(1, (tensorType) => {
      tensorType.varint(1, ONNX_DATA_TYPE[info.dataType]); // elem_type
      if (info.shape === undefined) return;
      const shape = info.shape;
      tensorType.message(2, (shapeProto) => {
        for (const dimension of shape) {
          shapeProto.message(1, (dim) => (typeof dimension === 'number' ? dim.varint(1, dimension) : dim.string(2, dimension)));
        }
      });
    }),
  );
}

function writeGraph(writer: MessageWriter, graph: OnnxGraph): void {
  for (const node of graph.nodes) writer.message(1, (child) => writeNode(child, node));
  writer.string(2, graph.name);
  for (const tensor of graph.initializers) writer.message(5, (child) => writeTensor(child, tensor));
  for (const input of graph.inputs) writer.message(11, (child) => writeValueInfo(child, input));
  for (const output of graph.outputs) writer.message(12, (child) => writeValueInfo(child, output));
}

/** The ModelProto's bytes, as chunks to write in order (see encodeOnnxModel for one buffer). */
export function onnxModelChunks(model: OnnxModel): Uint8Array[] {
  const writer = new MessageWriter();
  writer.varint(1, model.irVersion); // ir_version
  writer.string(2, model.producerName);
  writer.string(3, model.producerVersion);
  if (model.docString !== undefined) writer.string(6, model.docString);
  writer.message(7, (child) => writeGraph(child, model.graph)); // graph
  writer.message(8, (opset) => {
    // opset_import: the default domain
    opset.string(1, '');
    opset.varint(2, model.opsetVersion);
  });
  return writer.finish();
}

export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  return Buffer.concat(onnxModelChunks(model));
}

/** Bytes of little-endian values for raw_data. */
export function float32Bytes(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

export function int64Bytes(values: readonly number[]): Uint8Array {
  return new Uint8Array(BigInt64Array.from(values, (value) => BigInt(value)).buffer);
}
