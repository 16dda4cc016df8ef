import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Controller, Get, Param, Res } from '@nestjs/common';
import type { Response } from 'express';
import { UnbufferedBody } from '../http/raw-body.middleware';

/**
 * The dashboard's files: `apps/api/ui/` in the repository, copied beside the compiled code by
 * scripts/build.cjs, so `../../ui` from this file finds them in both (decision 1011).
 */
export const UI_DIR = join(__dirname, '..', '..', 'ui');

const FILES = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
} as const;
type UiFile = keyof typeof FILES;

/**
 * Only our own files run and are loaded, nothing inline and nothing from elsewhere: a job reason
 * or file name that slipped past the page's text-only rendering still could not run a script.
 */
export const UI_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The dashboard at /ui (issue 15 point 4): static files, served without a key — the page asks for
 * one, keeps it in sessionStorage and sends it as the Bearer header to the JSON routes, which
 * check it as they check any client's.
 */
@Controller('ui')
@UnbufferedBody()
export class UiController {
  private readonly files = new Map<UiFile, Buffer>(
    (Object.keys(FILES) as UiFile[]).map((f) => [f, readFileSync(join(UI_DIR, f))]),
  );

  @Get()
  index(@Res() res: Response): void {
    this.send(res, 'index.html');
  }

  @Get(':file')
  asset(@Param('file') file: string, @Res() res: Response): void {
    if (!Object.hasOwn(FILES, file)) {
      res.status(404).type('text/plain').send('not found');
      return;
    }
    this.send(res, file as UiFile);
  }

  private send(res: Response, file: UiFile): void {
    res
      .status(200)
      .set({
        'Content-Type': FILES[file],
        'Content-Security-Policy': UI_CSP,
        'X-Content-Type-Options': 'nosniff',
        'Referrer-Policy': 'no-referrer',
        'X-Frame-Options': 'DENY',
        // Revalidated on every load: a gateway upgrade must not leave an old page talking to a new API.
        'Cache-Control': 'no-cache',
      })
      .send(this.files.get(file));
  }
}
