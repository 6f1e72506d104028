// express 4 is installed under the npm alias `express4` for the compatibility runs; its API as
// used here is the one @types/express (v5) describes.
declare module 'express4' {
  import express from 'express';
  export default express;
}
