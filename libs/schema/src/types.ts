/**
 * The collection schema model shared by the collections API (DDL), the format readers
 * (validation) and the COPY sink. Pure data: no I/O.
 */
export const SCALAR_TYPES = ['Bool', 'Int8', 'Int16', 'Int32', 'Int64', 'Float', 'Double', 'VarChar'] as const;
export const VECTOR_TYPES = [
  'FloatVector',
  'BinaryVector',
  'Float16Vector',
  'BFloat16Vector',
  'SparseFloatVector',
] as const;
export const DATA_TYPES = [...SCALAR_TYPES, 'JSON', 'Array', ...VECTOR_TYPES] as const;

export type ScalarType = (typeof SCALAR_TYPES)[number];
export type VectorType = (typeof VECTOR_TYPES)[number];
export type DataType = (typeof DATA_TYPES)[number];

/** A field's default, as Milvus accepts it; Int64 defaults are decimal strings to stay exact. */
export type DefaultValue = boolean | number | string;

export interface FieldSchema {
  readonly name: string;
  readonly dataType: DataType;
  readonly isPrimary: boolean;
  readonly autoId: boolean;
  readonly isPartitionKey: boolean;
  readonly isClusteringKey: boolean;
  readonly nullable: boolean;
  readonly defaultValue?: DefaultValue;
  readonly description: string;
  /** Vectors (not sparse): dimension. */
  readonly dim?: number;
  /** VarChar, and Array of VarChar: limit in UTF-8 bytes. */
  readonly maxLength?: number;
  /** Array: most elements. */
  readonly maxCapacity?: number;
  /** Array: element type (a scalar type). */
  readonly elementType?: ScalarType;
}

export interface CollectionSchema {
  readonly fields: readonly FieldSchema[];
  readonly enableDynamicField: boolean;
}

/** Name of the dynamic-field column and of its key/column/file in inputs. */
export const META_FIELD = '$meta';
/** Name of the partition column of every collection table. */
export const PARTITION_COLUMN = '$partition';

/**
 * Columnar batch of validated rows, chosen for COPY speed: numbers and vectors stay in typed arrays
 * (a FloatVector column is one Float32Array of rowCount × dim), so the sink writes binary COPY
 * straight from them without building a JS object per row. See docs/decisions/0003-row-batches.md.
 *
 * `valid` is a per-row presence map (1 = value, 0 = NULL), or null when no row is NULL. Every
 * schema field except an auto-generated primary key has a column; defaults are already applied.
 */
export type Column =
  | { readonly kind: 'bool'; readonly values: Uint8Array; readonly valid: Uint8Array | null }
  /** Int8, Int16, Int32 */
  | { readonly kind: 'int32'; readonly values: Int32Array; readonly valid: Uint8Array | null }
  | { readonly kind: 'int64'; readonly values: BigInt64Array; readonly valid: Uint8Array | null }
  | { readonly kind: 'float32'; readonly values: Float32Array; readonly valid: Uint8Array | null }
  | { readonly kind: 'float64'; readonly values: Float64Array; readonly valid: Uint8Array | null }
  /** VarChar; JSON and SparseFloatVector as canonical JSON text (sparse: indices sorted ascending). */
  | { readonly kind: 'text'; readonly values: readonly (string | null)[] }
  /** Array fields: elements already checked against elementType (Int64 elements as bigint). */
  | { readonly kind: 'array'; readonly values: readonly (readonly (boolean | number | bigint | string)[] | null)[] }
  /** FloatVector: rowCount × dim float32 values. */
  | { readonly kind: 'floatVector'; readonly dim: number; readonly values: Float32Array }
  /** BinaryVector (width = dim/8), Float16Vector and BFloat16Vector (width = 2·dim, little-endian). */
  | { readonly kind: 'bytes'; readonly width: number; readonly values: Uint8Array };

export interface RowBatch {
  /** File (URL or path as given) the rows come from, for error messages. */
  readonly file: string;
  /** 1-based number of the batch's first row within the file group. */
  readonly firstRow: number;
  readonly rowCount: number;
  /** One column per schema field (except an auto-generated primary key), keyed by field name. */
  readonly columns: ReadonlyMap<string, Column>;
  /** Dynamic-field objects as JSON text, one per row ('{}' when none); null without the dynamic field. */
  readonly meta: readonly string[] | null;
}
