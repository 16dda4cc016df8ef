import { z } from 'zod';
import {
  DATA_TYPES,
  fieldOf,
  SCALAR_TYPES,
  type DataType,
  type DefaultValue,
  type FieldSchema,
  type ScalarType,
} from '@gw/schema';
import { boolLike, intLike, parseBody } from './body';
import { invalidParameter, missingParameter } from './collections.errors';
import type { CollectionParams, CollectionSpec, IndexParam } from './model';
import { checkName } from './names';

const MAX_FIELDS = 64;
const MAX_DIM = 32_768;
const MAX_VARCHAR = 65_535;
const MAX_CAPACITY = 4_096;
const VECTOR_SET = new Set<DataType>([
  'FloatVector',
  'BinaryVector',
  'Float16Vector',
  'BFloat16Vector',
  'SparseFloatVector',
]);

const indexParamZ = z.object({
  fieldName: z.string(),
  indexName: z.string().optional(),
  metricType: z.string().optional(),
  indexType: z.string().optional(),
  params: z.record(z.string(), z.unknown()).optional(),
});

const fieldZ = z.object({
  fieldName: z.string(),
  dataType: z.string(),
  isPrimary: boolLike.optional(),
  isPartitionKey: boolLike.optional(),
  isClusteringKey: boolLike.optional(),
  autoID: boolLike.optional(),
  autoId: boolLike.optional(),
  elementDataType: z.string().optional(),
  elementTypeParams: z.record(z.string(), z.unknown()).optional(),
  nullable: boolLike.optional(),
  defaultValue: z.union([z.boolean(), z.number(), z.bigint(), z.string()]).optional(),
  description: z.string().optional(),
});

const createZ = z.object({
  collectionName: z.string(),
  description: z.string().optional(),
  dimension: intLike.optional(),
  metricType: z.string().optional(),
  idType: z.string().optional(),
  autoID: boolLike.optional(),
  autoId: boolLike.optional(),
  primaryFieldName: z.string().optional(),
  vectorFieldName: z.string().optional(),
  params: z
    .object({
      max_length: intLike.optional(),
      enableDynamicField: boolLike.optional(),
      consistencyLevel: z.union([z.string(), z.number()]).optional(),
      shardsNum: intLike.optional(),
      ttlSeconds: intLike.optional(),
      partitionsNum: intLike.optional(),
    })
    .optional(),
  schema: z
    .object({
      autoID: boolLike.optional(),
      autoId: boolLike.optional(),
      enableDynamicField: boolLike.optional(),
      enabledDynamicField: boolLike.optional(),
      fields: z.array(fieldZ).optional(),
    })
    .optional(),
  indexParams: z.array(indexParamZ).optional(),
});

type FieldInput = z.output<typeof fieldZ>;

/** Validates a collections/create body (spec §4) into a normalised collection spec. */
export function parseCreateCollection(body: unknown): CollectionSpec {
  const b = parseBody(createZ, body);
  const name = checkName('collection', b.collectionName);
  const params: CollectionParams = {
    ...(b.params?.consistencyLevel !== undefined ? { consistencyLevel: String(b.params.consistencyLevel) } : {}),
    ...(b.params?.shardsNum !== undefined ? { shardsNum: b.params.shardsNum } : {}),
    ...(b.params?.ttlSeconds !== undefined ? { ttlSeconds: b.params.ttlSeconds } : {}),
    ...(b.params?.partitionsNum !== undefined ? { partitionsNum: b.params.partitionsNum } : {}),
  };
  const fieldsIn = b.schema?.fields;
  let fields: FieldSchema[];
  let enableDynamicField: boolean;
  let indexes: IndexParam[];
  if (fieldsIn === undefined || fieldsIn.length === 0) {
    // Quick form.
    if (b.dimension === undefined) throw missingParameter('dimension');
    const metricType = normaliseMetric(b.metricType ?? 'COSINE');
    const idType = b.idType ?? 'Int64';
    const autoId = b.autoID ?? b.autoId ?? false;
    const pkName = checkName('field', b.primaryFieldName ?? 'id');
    const vecName = checkName('field', b.vectorFieldName ?? 'vector');
    if (pkName === vecName) throw invalidParameter('primaryFieldName and vectorFieldName must differ');
    checkDim('FloatVector', b.dimension);
    let pk: FieldSchema;
    if (idType === 'Int64') {
      pk = fieldOf(pkName, 'Int64', { isPrimary: true, autoId });
    } else if (idType === 'VarChar' || idType === 'Varchar') {
      if (autoId) throw invalidParameter('autoId is only allowed on an Int64 primary field');
      const ml = b.params?.max_length;
      if (ml === undefined) throw missingParameter('params.max_length');
      checkMaxLength(ml);
      pk = fieldOf(pkName, 'VarChar', { isPrimary: true, maxLength: ml });
    } else {
      throw invalidParameter(`idType ${JSON.stringify(idType)} must be Int64 or VarChar`);
    }
    fields = [pk, fieldOf(vecName, 'FloatVector', { dim: b.dimension })];
    enableDynamicField = b.params?.enableDynamicField ?? true;
    indexes = [{ fieldName: vecName, indexName: 'vector_idx', metricType }];
    if (b.indexParams !== undefined) indexes = parseIndexParams(b.indexParams, fields);
  } else {
    const schemaAutoId = b.schema?.autoID ?? b.schema?.autoId ?? false;
    if (fieldsIn.length > MAX_FIELDS) throw invalidParameter(`a collection has at most ${MAX_FIELDS} fields`);
    fields = fieldsIn.map((f) => parseField(f, schemaAutoId));
    const seen = new Set<string>();
    for (const f of fields) {
      if (seen.has(f.name)) throw invalidParameter(`duplicated field name ${f.name}`);
      seen.add(f.name);
    }
    const pks = fields.filter((f) => f.isPrimary);
    if (pks.length !== 1) throw invalidParameter('a collection needs exactly one primary field');
    if (!fields.some((f) => VECTOR_SET.has(f.dataType))) {
      throw invalidParameter('a collection needs at least one vector field');
    }
    if (fields.filter((f) => f.isPartitionKey).length > 1) {
      throw invalidParameter('a collection has at most one partition key field');
    }
    enableDynamicField =
      b.schema?.enableDynamicField ?? b.schema?.enabledDynamicField ?? b.params?.enableDynamicField ?? false;
    indexes = parseIndexParams(b.indexParams ?? [], fields);
  }
  return { name, description: b.description ?? '', schema: { fields, enableDynamicField }, indexes, params };
}

function normaliseMetric(m: string): string {
  return m.toUpperCase();
}

function checkDim(type: string, dim: number): void {
  if (!Number.isInteger(dim) || dim < 1 || dim > MAX_DIM) {
    throw invalidParameter(`dim of ${type} must be between 1 and ${MAX_DIM}, got ${dim}`);
  }
}

function checkMaxLength(ml: number): void {
  if (!Number.isInteger(ml) || ml < 1 || ml > MAX_VARCHAR) {
    throw invalidParameter(`max_length must be between 1 and ${MAX_VARCHAR}, got ${ml}`);
  }
}

/** elementTypeParams values are numbers or decimal strings. */
function typeParam(f: FieldInput, key: string): number | undefined {
  const v = f.elementTypeParams?.[key];
  if (v === undefined || v === null || v === '') return undefined;
  const r = intLike.safeParse(v);
  if (!r.success) throw invalidParameter(`field ${f.fieldName}: ${key} must be an integer`);
  return r.data;
}

function requireParam(f: FieldInput, key: string): number {
  const v = typeParam(f, key);
  if (v === undefined) throw invalidParameter(`field ${f.fieldName}: ${key} is required for ${f.dataType}`);
  return v;
}

function isDataType(s: string): s is DataType {
  return (DATA_TYPES as readonly string[]).includes(s);
}

function isScalarType(s: string): s is ScalarType {
  return (SCALAR_TYPES as readonly string[]).includes(s);
}

function parseField(f: FieldInput, schemaAutoId: boolean): FieldSchema {
  const name = checkName('field', f.fieldName);
  if (!isDataType(f.dataType)) throw invalidParameter(`data type ${f.dataType} is not supported`);
  const dataType = f.dataType;
  const isPrimary = f.isPrimary ?? false;
  const autoId = isPrimary && (f.autoID ?? f.autoId ?? schemaAutoId);
  const nullable = f.nullable ?? false;
  const isVector = VECTOR_SET.has(dataType);
  const out: { -readonly [K in keyof FieldSchema]: FieldSchema[K] } = {
    name,
    dataType,
    isPrimary,
    autoId,
    isPartitionKey: f.isPartitionKey ?? false,
    isClusteringKey: f.isClusteringKey ?? false,
    nullable,
    description: f.description ?? '',
  };
  if (isPrimary) {
    if (dataType !== 'Int64' && dataType !== 'VarChar') {
      throw invalidParameter(`primary field ${name} must be Int64 or VarChar`);
    }
    if (nullable) throw invalidParameter(`primary field ${name} cannot be nullable`);
    if (f.defaultValue !== undefined) throw invalidParameter(`primary field ${name} cannot have a default value`);
  }
  if (autoId && dataType !== 'Int64') throw invalidParameter('autoId is only allowed on an Int64 primary field');
  if (isVector && nullable) throw invalidParameter(`vector field ${name} cannot be nullable`);
  if (out.isPartitionKey && !['Int64', 'VarChar'].includes(dataType)) {
    throw invalidParameter(`partition key field ${name} must be Int64 or VarChar`);
  }
  if (out.isPartitionKey && isPrimary) throw invalidParameter(`primary field ${name} cannot be the partition key`);
  switch (dataType) {
    case 'VarChar': {
      const ml = requireParam(f, 'max_length');
      checkMaxLength(ml);
      out.maxLength = ml;
      break;
    }
    case 'FloatVector':
    case 'BinaryVector':
    case 'Float16Vector':
    case 'BFloat16Vector': {
      const dim = requireParam(f, 'dim');
      checkDim(dataType, dim);
      if (dataType === 'BinaryVector' && dim % 8 !== 0) {
        throw invalidParameter(`dim of BinaryVector must be a multiple of 8, got ${dim}`);
      }
      out.dim = dim;
      break;
    }
    case 'Array': {
      const et = f.elementDataType;
      if (et === undefined) throw invalidParameter(`field ${name}: elementDataType is required for Array`);
      if (!isScalarType(et)) throw invalidParameter(`data type Array of ${et} is not supported`);
      out.elementType = et;
      const cap = requireParam(f, 'max_capacity');
      if (!Number.isInteger(cap) || cap < 1 || cap > MAX_CAPACITY) {
        throw invalidParameter(`max_capacity must be between 1 and ${MAX_CAPACITY}, got ${cap}`);
      }
      out.maxCapacity = cap;
      if (et === 'VarChar') {
        const ml = requireParam(f, 'max_length');
        checkMaxLength(ml);
        out.maxLength = ml;
      }
      break;
    }
    default:
      break;
  }
  if (f.defaultValue !== undefined) {
    if (isVector || dataType === 'JSON' || dataType === 'Array') {
      throw invalidParameter(`field ${name} of type ${dataType} cannot have a default value`);
    }
    out.defaultValue = checkDefault(out, f.defaultValue);
  }
  return out;
}

const INT_RANGES: Partial<Record<DataType, readonly [bigint, bigint]>> = {
  Int8: [-128n, 127n],
  Int16: [-32768n, 32767n],
  Int32: [-2147483648n, 2147483647n],
  Int64: [-9223372036854775808n, 9223372036854775807n],
};

/** The default must match the field type exactly (spec §3); Int64 defaults are kept as decimal strings. */
function checkDefault(f: FieldSchema, v: boolean | number | bigint | string): DefaultValue {
  const bad = (): never => {
    throw invalidParameter(`default value of field ${f.name} does not match type ${f.dataType}`);
  };
  switch (f.dataType) {
    case 'Bool':
      return typeof v === 'boolean' ? v : bad();
    case 'Int8':
    case 'Int16':
    case 'Int32':
    case 'Int64': {
      let n: bigint;
      if (typeof v === 'bigint') n = v;
      else if (typeof v === 'number' && Number.isSafeInteger(v)) n = BigInt(v);
      else if (typeof v === 'string' && f.dataType === 'Int64' && /^[+-]?\d+$/.test(v)) n = BigInt(v);
      else return bad();
      const [lo, hi] = INT_RANGES[f.dataType]!;
      if (n < lo || n > hi) return bad();
      return f.dataType === 'Int64' ? n.toString() : Number(n);
    }
    case 'Float':
    case 'Double':
      if (typeof v !== 'number' || !Number.isFinite(v)) return bad();
      if (f.dataType === 'Float' && !Number.isFinite(Math.fround(v))) return bad();
      return v;
    case 'VarChar':
      if (typeof v !== 'string') return bad();
      if (Buffer.byteLength(v, 'utf8') > (f.maxLength ?? 0)) {
        throw invalidParameter(`default value of field ${f.name} exceeds max_length ${f.maxLength}`);
      }
      if (v.includes('\u0000')) return bad();
      return v;
    default:
      return bad();
  }
}

function parseIndexParams(list: readonly z.output<typeof indexParamZ>[], fields: readonly FieldSchema[]): IndexParam[] {
  const out: IndexParam[] = [];
  for (const ip of list) {
    if (!fields.some((f) => f.name === ip.fieldName)) {
      throw invalidParameter(`index field ${ip.fieldName} is not a field of the collection`);
    }
    const indexName = ip.indexName ?? ip.fieldName;
    if (out.some((o) => o.indexName === indexName)) throw invalidParameter(`duplicated index name ${indexName}`);
    out.push({
      fieldName: ip.fieldName,
      indexName,
      metricType: normaliseMetric(ip.metricType ?? ''),
      ...(ip.indexType !== undefined ? { indexType: ip.indexType } : {}),
      ...(ip.params !== undefined ? { params: ip.params } : {}),
    });
  }
  return out;
}

export { parseIndexParams, indexParamZ };
