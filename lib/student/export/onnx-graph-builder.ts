/**
 * A small helper to write ONNX graphs as code: `op` appends a node and returns its output's name, constants are
 * initializers shared by value, and names stay unique across a graph and its subgraphs (If branches), which
 * share one name counter.
 */
import {
  float32Bytes,
  int64Bytes,
  type OnnxAttributeValue,
  type OnnxDataType,
  type OnnxGraph,
  type OnnxNode,
  type OnnxTensor,
  type OnnxValueInfo,
} from './onnx-protobuf';

export type Attributes = Record<string, OnnxAttributeValue>;

export const attribute = {
  int: (value: number): OnnxAttributeValue => ({ kind: 'int', value }),
  ints: (value: number[]): OnnxAttributeValue => ({ kind: 'ints', value }),
  float: (value: number): OnnxAttributeValue => ({ kind: 'float', value }),
  graph: (value: OnnxGraph): OnnxAttributeValue => ({ kind: 'graph', value }),
};

export class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  private readonly constants = new Map<string, string>();

  constructor(
    /** node and value names are `${prefix}${op}_${n}` */
    private readonly prefix = '',
    private readonly counter = { next: 0 },
  ) {}

  /** A builder for a subgraph (an If branch): its names cannot collide with this graph's. */
  subgraph(prefix: string): GraphBuilder {
    return new GraphBuilder(`${this.prefix}${prefix}`, this.counter);
  }

  /** Appends a node with one output (named `output`, or generated) and returns the output's name. */
  op(opType: string, inputs: string[], attributes?: Attributes, output?: string): string {
    return this.opWithOutputs(opType, inputs, [output ?? this.fresh(opType)], attributes)[0];
  }

  opWithOutputs(opType: string, inputs: string[], outputs: string[], attributes?: Attributes): string[] {
    this.nodes.push({ opType, name: `${this.prefix}${opType}_node_${this.counter.next++}`, inputs, outputs, attributes });
    return outputs;
  }

  fresh(hint: string): string {
    return `${this.prefix}${hint}_${this.counter.next++}`;
  }

  initializer(tensor: OnnxTensor): string {
    this.initializers.push(tensor);
    return tensor.name;
  }

  /** An int64 constant (a scalar when dims is []), one initializer per distinct value. */
  int64(values: number[], dims: number[] = [values.length]): string {
    return this.constant('int64', values, dims, () => int64Bytes(values));
  }

  float(values: number[], dims: number[] = []): string {
    return this.constant('float', values, dims, () => float32Bytes(Float32Array.from(values)));
  }

  private constant(dataType: OnnxDataType, values: number[], dims: number[], bytes: () => Uint8Array): string {
    const key = `${dataType}:${dims.join('x')}:${values.join(',')}`;
    let name = this.constants.get(key);
    if (name === undefined) {
      name = `${this.prefix}const_${dataType}_${this.counter.next++}`;
      this.initializers.push({ name, dataType, dims, rawData: bytes() });
      this.constants.set(key, name);
    }
    return name;
  }

  graph(name: string, inputs: OnnxValueInfo[], outputs: OnnxValueInfo[]): OnnxGraph {
    return { name, nodes: this.nodes, initializers: this.initializers, inputs, outputs };
  }
}
