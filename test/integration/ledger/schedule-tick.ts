import { ImportJobsRepository, ImportSchedulesRepository } from '@gw/db';
import {
  CollectionsImportCatalog,
  CreateImportJob,
  CredentialsCipher,
  RunScheduleTick,
  type BullJobQueue,
} from '@gw/jobs';
import type { TestGateway } from '@gw/testing';

/** A schedule tick wired as a worker's tick processor wires it, on the gateway's database and `queue`. */
export function scheduleTick(gw: TestGateway, queue: BullJobQueue): RunScheduleTick {
  const cipher = new CredentialsCipher(gw.config.secretKeys.current, gw.config.secretKeys.previous);
  return new RunScheduleTick(
    new ImportSchedulesRepository(gw.db),
    new CreateImportJob(
      new ImportJobsRepository(gw.db),
      new CollectionsImportCatalog(gw.db, gw.db),
      queue,
      cipher,
      gw.config,
    ),
    cipher,
    gw.config,
  );
}
